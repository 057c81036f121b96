-- Freshness per source, judged against the newest data date across all sources (as_of_date)
-- rather than the wall clock, so the result depends only on the data (stable in tests and when
-- replaying old data). latest_data_at is the end of the latest period a source covers.
with

load_log as (
    select * from {{ ref('stg_ops__load_log') }}
),

requests as (
    select * from {{ ref('stg_feedback__requests') }}
),

kpis as (
    select * from {{ ref('stg_kpis__observations') }}
),

respondents as (
    select * from {{ ref('stg_survey__respondents') }}
),

decisions as (
    select * from {{ ref('stg_reviews__decisions') }}
),

latest_data as (
    select
        'feedback' as source,
        max(opened_at) as latest_data_at,
        1 as expected_cadence_days
    from requests
    union all
    select
        'kpis' as source,
        cast(max(period_month) + interval 1 month - interval 1 day as timestamp) as latest_data_at,
        31 as expected_cadence_days
    from kpis
    union all
    select
        'survey' as source,
        cast(max(period_start) + interval 3 month - interval 1 day as timestamp) as latest_data_at,
        92 as expected_cadence_days
    from respondents
    union all
    select
        'reviews' as source,
        max(recorded_at) as latest_data_at,
        92 as expected_cadence_days
    from decisions
),

last_loads as (
    select
        source,
        max(loaded_at) as last_loaded_at
    from load_log
    where status = 'loaded'
    group by source
),

as_of as (
    select max(latest_data_at) as as_of_at from latest_data
),

final as (
    select
        cast(latest_data.source as varchar) as source,
        cast(last_loads.last_loaded_at as timestamp) as last_loaded_at,
        cast(latest_data.latest_data_at as timestamp) as latest_data_at,
        cast(latest_data.expected_cadence_days as integer) as expected_cadence_days,
        cast(
            latest_data.latest_data_at is null
            or date_diff('day', latest_data.latest_data_at, as_of.as_of_at)
            > latest_data.expected_cadence_days
            as boolean
        ) as is_stale,
        cast(as_of.as_of_at as date) as as_of_date,
        cast(date_diff('day', latest_data.latest_data_at, as_of.as_of_at) as bigint) as days_behind,
        {{ method_version() }} as method_version
    from latest_data
    cross join as_of
    left join last_loads on latest_data.source = last_loads.source
)

select * from final
