-- Per period, service code and district: closed requests, the district's median resolution hours
-- and the median of all other districts' requests of the same service (input of the disparity
-- ratio and of marts.equity_district_resolution). Incremental by period: the months rebuilt
-- upstream and their quarters (macros/feedback_incremental.sql).
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_periods() }}") }}

with

closed as (
    select * from {{ ref('int_equity__closed_requests_by_period') }}
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

district_medians as (
    select
        grain,
        period_start,
        service_code,
        district_code,
        count(*) as n_closed,
        median(resolution_hours) as median_district
    from closed
    group by grain, period_start, service_code, district_code
),

against_others as (
    select
        district_medians.grain,
        district_medians.period_start,
        district_medians.service_code,
        district_medians.district_code,
        district_medians.n_closed,
        district_medians.median_district,
        median(closed.resolution_hours) as median_others
    from district_medians
    inner join closed
        on
            district_medians.grain = closed.grain
            and district_medians.period_start = closed.period_start
            and district_medians.service_code = closed.service_code
            and district_medians.district_code <> closed.district_code
    group by
        district_medians.grain,
        district_medians.period_start,
        district_medians.service_code,
        district_medians.district_code,
        district_medians.n_closed,
        district_medians.median_district
)

select * from against_others
