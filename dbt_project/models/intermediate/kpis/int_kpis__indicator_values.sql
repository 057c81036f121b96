-- KPI indicators at city scope, month and quarter grain; the kpi -> indicator mapping and the
-- aggregation over agencies and months come from seed kpi_indicator_map.
with

observations as (
    select * from {{ ref('stg_kpis__observations') }}
),

kpi_map as (
    select * from {{ ref('kpi_indicator_map') }}
),

mapped as (
    select
        kpi_map.indicator_id,
        kpi_map.aggregation,
        observations.agency,
        observations.period_month,
        cast(date_trunc('quarter', observations.period_month) as date) as quarter_start,
        observations.actual,
        observations.target
    from observations
    inner join kpi_map on observations.kpi_id = kpi_map.kpi_id
    where observations.actual is not null
),

gridded as (
    select
        *,
        'month' as grain,
        period_month as period_start
    from mapped
    union all
    select
        *,
        'quarter' as grain,
        quarter_start as period_start
    from mapped
),

with_latest as (
    select
        *,
        max(period_month) over (partition by indicator_id, grain, period_start) as latest_month
    from gridded
),

aggregated as (
    select
        indicator_id,
        period_start,
        grain,
        any_value(aggregation) as aggregation,
        sum(actual) filter (where target is not null) / nullif(sum(target), 0) as ratio_to_plan,
        avg(actual) as mean_actual,
        sum(actual) filter (where period_month = latest_month) as sum_latest,
        count(*) as n
    from with_latest
    group by indicator_id, period_start, grain
),

final as (
    select
        indicator_id,
        period_start,
        grain,
        'city' as scope,
        case aggregation
            when 'ratio_to_plan' then ratio_to_plan
            when 'mean' then mean_actual
            when 'sum_latest' then sum_latest
        end as value,
        n
    from aggregated
)

select
    indicator_id,
    period_start,
    grain,
    scope,
    cast(value as double) as value,
    cast(n as bigint) as n
from final
