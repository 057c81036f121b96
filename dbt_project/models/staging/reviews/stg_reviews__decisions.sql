with

source as (
    select * from {{ source('raw', 'review_decisions') }}
),

renamed as (
    select
        cast(entry_id as varchar) as entry_id,
        cast(recorded_at as timestamp) as recorded_at,
        recorded_by,
        upper(trim(review_quarter)) as review_quarter,
        -- 'YYYYQn' -> first day of that quarter
        make_date(
            cast(left(trim(review_quarter), 4) as integer),
            3 * cast(right(trim(review_quarter), 1) as integer) - 2,
            1
        ) as review_quarter_start,
        lower(trim(indicator_id)) as indicator_id,
        lower(trim(decision)) as decision,
        cast(new_target as double) as new_target,
        cast(effective_from as date) as effective_from,
        nullif(trim(action_text), '') as action_text,
        nullif(trim(action_owner), '') as action_owner,
        cast(action_due as date) as action_due,
        lower(nullif(trim(action_status), '')) as action_status,
        cast(action_completed_on as date) as action_completed_on,
        nullif(trim(rationale), '') as rationale,
        nullif(trim(corrects_entry_id), '') as corrects_entry_id
    from source
)

select * from renamed
