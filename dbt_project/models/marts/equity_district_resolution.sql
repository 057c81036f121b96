-- Resolution time per district and period (cohort of requests opened in the period): closed
-- requests, median resolution hours, and the district's own disparity ratio = the volume-weighted
-- mean over service codes of (district median / median of the other districts), the per-district
-- view behind c2_district_disparity_ratio (whose city value takes the max district per service).
-- Incremental by period (docs/contracts.md, "Incremental builds").
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_periods() }}") }}

with

closed as (
    select * from {{ ref('int_equity__closed_requests_by_period') }}
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

service_medians as (
    select * from {{ ref('int_equity__district_service_medians') }}
    where
        median_others > 0
    {% if is_incremental() %}
        and {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

overall as (
    select
        grain,
        period_start,
        district_code,
        count(*) as n_closed,
        median(resolution_hours) as median_resolution_hours
    from closed
    group by grain, period_start, district_code
),

ratios as (
    select
        grain,
        period_start,
        district_code,
        sum(median_district / median_others * n_closed) / sum(n_closed) as disparity_ratio
    from service_medians
    group by grain, period_start, district_code
),

final as (
    select
        cast(overall.period_start as date) as period_start,
        cast(overall.grain as varchar) as grain,
        cast(overall.district_code as varchar) as district_code,
        cast(overall.n_closed as bigint) as n_closed,
        cast(overall.median_resolution_hours as double) as median_resolution_hours,
        cast(ratios.disparity_ratio as double) as disparity_ratio,
        {{ method_version() }} as method_version
    from overall
    left join ratios
        on
            overall.grain = ratios.grain
            and overall.period_start = ratios.period_start
            and overall.district_code = ratios.district_code
)

select * from final
