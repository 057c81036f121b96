with

requests as (
    select * from {{ ref('stg_feedback__requests') }}
),

enriched as (
    select
        request_id,
        service_code,
        category,
        agency,
        district_code,
        channel,
        status,
        opened_at,
        closed_at,
        first_response_at,
        reopened_count,
        fixed_confirmed,
        cast(date_trunc('month', opened_at) as date) as month_start,
        cast(date_trunc('quarter', opened_at) as date) as quarter_start,
        closed_at is not null as is_closed,
        first_response_at is not null as is_responded,
        -- A source format that never records a first response (NYC, SF exports) does not say
        -- "no response": its requests stay out of the response share instead of counting as 0.
        bool_or(first_response_at is not null) over (partition by source_format) as is_response_recorded,
        -- durations are null when the timestamps are inconsistent (closed before opened)
        case
            when closed_at >= opened_at then date_diff('second', opened_at, closed_at) / 3600.0
        end as resolution_hours,
        case
            when first_response_at >= opened_at
                then date_diff('second', opened_at, first_response_at) / 3600.0
        end as response_hours,
        -- ~100 m cell from rounded coordinates; the district when coordinates are missing
        case
            when lat is not null and lon is not null
                then 'cell:' || cast(round(lat, 3) as varchar) || '|' || cast(round(lon, 3) as varchar)
            when district_code is not null then 'district:' || district_code
        end as location_cell
    from requests
),

repeats as (
    select distinct later.request_id
    from enriched as later
    inner join enriched as earlier
        on
            later.service_code = earlier.service_code
            and later.location_cell = earlier.location_cell
            and later.opened_at > earlier.opened_at
            and earlier.opened_at >= later.opened_at - interval {{ var('repeat_window_days') }} day
            and later.request_id <> earlier.request_id
),

final as (
    select
        enriched.*,
        repeats.request_id is not null as is_repeat
    from enriched
    left join repeats on enriched.request_id = repeats.request_id
)

select * from final
