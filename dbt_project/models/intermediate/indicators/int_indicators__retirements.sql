-- Indicators retired by an effective (uncorrected) retire_indicator decision. retired_from is the
-- decision's effective_from, else the start of the quarter after the reviewed quarter (the quarter
-- in which the review is held). From retired_from on, an indicator's values are still computed
-- and published but it no longer counts in consideration scores or c6_share_on_target. Several
-- retirements of one indicator: the earliest date counts.
with

decisions as (
    select * from {{ ref('int_reviews__decisions_effective') }}
),

catalog as (
    select indicator_id from {{ ref('seed_indicator_catalog') }}
),

retirements as (
    select
        decisions.indicator_id,
        coalesce(decisions.effective_from, decisions.review_quarter_start + interval 3 month)
            as retired_from,
        decisions.entry_id,
        decisions.rationale
    from decisions
    inner join catalog on decisions.indicator_id = catalog.indicator_id
    where decisions.decision = 'retire_indicator'
),

final as (
    select
        indicator_id,
        cast(retired_from as date) as retired_from,
        entry_id,
        rationale
    from retirements
    qualify row_number() over (
        partition by indicator_id order by retired_from, entry_id
    ) = 1
)

select * from final
