-- City x quarter x indicator, normalised so that cities of any size compare: reports per 1,000
-- residents, and per-request shares of the closing-the-loop funnel (responded, resolved,
-- confirmed fixed per resolved). From the published funnel mart, so every city has them.
with

cities as (
    select * from {{ ref('national_cities') }}
),

funnel as (
    select * from {{ ref('stg_exports__feedback_funnel') }}
    where grain = 'quarter' and scope = 'city'
),

indicators as (
    select 'reports_per_1k_residents' as indicator
    union all
    select 'response_share' as indicator
    union all
    select 'resolution_share' as indicator
    union all
    select 'fix_confirmed_share' as indicator
),

measures as (
    select
        funnel.city_slug,
        funnel.period_start,
        indicators.indicator,
        cities.is_comparable,
        cast(case indicators.indicator
            when 'reports_per_1k_residents' then funnel.received
            when 'response_share' then funnel.responded
            when 'resolution_share' then funnel.resolved
            else funnel.confirmed_fixed
        end as double) as numerator,
        case indicators.indicator
            when 'reports_per_1k_residents' then cast(cities.population as double) / 1000
            when 'fix_confirmed_share' then cast(funnel.resolved as double)
            else cast(funnel.received as double)
        end as denominator
    from funnel
    inner join cities on funnel.city_slug = cities.city_slug
    cross join indicators
),

final as (
    select
        city_slug,
        period_start,
        indicator,
        numerator,
        denominator,
        case when denominator > 0 then numerator / denominator end as value,
        is_comparable
    from measures
)

select * from final
