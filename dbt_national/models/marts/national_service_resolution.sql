-- City x quarter x service type, from request-level facts (only the cities that export them):
-- requests per 1,000 residents, response share, median and mean resolution hours of the
-- requests closed. The heavy model of the rollup: it scans every request of every city.
with

cities as (
    select * from {{ ref('national_cities') }}
),

requests as (
    select
        city_slug,
        cast({{ dbt.date_trunc('quarter', 'opened_at') }} as date) as period_start,
        coalesce(category, 'unknown') as category,
        is_closed,
        is_responded,
        resolution_hours
    from {{ ref('stg_exports__request_facts') }}
),

by_service as (
    select
        city_slug,
        period_start,
        category,
        count(*) as requests,
        sum(case when is_closed then 1 else 0 end) as closed,
        sum(case when is_responded then 1 else 0 end) as responded,
        {{ percentile_cont('resolution_hours', 0.5) }} as median_resolution_hours,
        avg(resolution_hours) as mean_resolution_hours
    from requests
    group by city_slug, period_start, category
),

final as (
    select
        by_service.city_slug,
        by_service.period_start,
        by_service.category,
        cast(by_service.requests as bigint) as requests,
        cast(by_service.closed as bigint) as closed,
        cast(by_service.requests as double) * 1000 / cast(cities.population as double)
            as requests_per_1k_residents,
        cast(by_service.responded as double) / cast(by_service.requests as double)
            as response_share,
        by_service.median_resolution_hours,
        by_service.mean_resolution_hours,
        cities.is_comparable
    from by_service
    inner join cities on by_service.city_slug = cities.city_slug
)

select * from final
