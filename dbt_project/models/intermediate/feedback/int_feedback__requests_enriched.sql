-- Incremental by day (macros/feedback_incremental.sql): a build rebuilds the days whose requests
-- changed, plus the days a changed day can make repeats in (repeat window).
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_days('opened_at') }}") }}

with

requests as (
    select * from {{ ref('stg_feedback__requests') }}
),

text_scores as (
    select * from {{ ref('stg_feedback__text_scores') }}
),

located as (
    select
        request_id,
        source_format,
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
    {% if is_incremental() %}
        -- the days to rebuild, and the repeat window before them (earlier reports)
        where opened_at >= {{ feedback_first_day_to_rebuild() }}
            - interval {{ var('repeat_window_days') }} day
    {% endif %}
),

rebuilt as (
    select * from located
    {% if is_incremental() %}
        where {{ feedback_timestamp_in_days_to_rebuild('opened_at') }}
    {% endif %}
),

-- A repeat: an earlier report (strictly earlier, at most the window before) of the same service in
-- the same cell. Counted with a range window rather than a self-join: the join pairs every two
-- reports of a cell and service, which grows with the square of the reports per cell.
repeats as (
    select request_id
    from (
        select
            request_id,
            count(*) over (
                partition by service_code, location_cell
                order by opened_at
                range between interval {{ var('repeat_window_days') }} day preceding
                and interval 1 microsecond preceding
            ) as earlier_reports
        from located
        where
            service_code is not null
            and location_cell is not null
            and opened_at is not null
    ) as counted
    where earlier_reports > 0
),

final as (
    select
        rebuilt.*,
        repeats.request_id is not null as is_repeat,
        -- VADER compound of the redacted text; NULL when the report has no text
        text_scores.sentiment
    from rebuilt
    left join repeats on rebuilt.request_id = repeats.request_id
    left join text_scores on rebuilt.request_id = text_scores.request_id
)

select * from final
