-- Actions from the effective (uncorrected) register entries; overdue = open and due before today
-- (the register is live, so wall-clock time is the right reference here).
with

decisions as (
    select * from {{ ref('int_reviews__decisions_effective') }}
),

final as (
    select
        cast(entry_id as varchar) as entry_id,
        cast(review_quarter as varchar) as review_quarter,
        cast(indicator_id as varchar) as indicator_id,
        cast(action_text as varchar) as action_text,
        cast(action_owner as varchar) as action_owner,
        cast(action_due as date) as action_due,
        cast(action_status as varchar) as action_status,
        cast(action_completed_on as date) as action_completed_on,
        cast(coalesce(action_status = 'open' and action_due < current_date, false) as boolean)
            as is_overdue,
        {{ method_version() }} as method_version
    from decisions
    where decision = 'add_action'
)

select * from final
