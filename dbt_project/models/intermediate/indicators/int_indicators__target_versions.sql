-- Target versions per indicator: the catalogue default (applies to every period before the first
-- revision), then each effective revise_target decision from its effective_from. Two revisions
-- with the same effective_from: the later recorded one wins. A version applies to periods whose
-- period_start is on or after applies_from and before the next version's applies_from.
with

catalog as (
    select * from {{ ref('seed_indicator_catalog') }}
),

decisions as (
    select * from {{ ref('int_reviews__decisions_effective') }}
),

defaults as (
    select
        indicator_id,
        default_target as target,
        target_set_on as effective_from,
        date '1900-01-01' as applies_from,
        target_rule,
        target_set_by as set_by,
        cast(target_set_on as timestamp) as set_at,
        target_reason as reason,
        cast(null as varchar) as entry_id
    from catalog
),

revisions as (
    select
        decisions.indicator_id,
        decisions.new_target as target,
        decisions.effective_from,
        decisions.effective_from as applies_from,
        'review' as target_rule,
        decisions.recorded_by as set_by,
        decisions.recorded_at as set_at,
        decisions.rationale as reason,
        decisions.entry_id
    from decisions
    inner join catalog on decisions.indicator_id = catalog.indicator_id
    where
        decisions.decision = 'revise_target'
        and decisions.new_target is not null
        and decisions.effective_from is not null
    qualify row_number() over (
        partition by decisions.indicator_id, decisions.effective_from
        order by decisions.recorded_at desc, decisions.entry_id desc
    ) = 1
),

versions as (
    select * from defaults
    union all
    select * from revisions
),

final as (
    select
        *,
        -- stable key of a version slot, for the snapshot indicator_targets_snapshot
        indicator_id || '@' || strftime(applies_from, '%Y-%m-%d') as target_version_key,
        row_number() over (partition by indicator_id order by applies_from) as version_number,
        lead(applies_from) over (partition by indicator_id order by applies_from) as applies_to
    from versions
)

select * from final
