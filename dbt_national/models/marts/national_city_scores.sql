-- City x consideration x quarter: each city's consideration scores side by side, with the
-- composite, flagged when the city is not comparable.
with

cities as (
    select * from {{ ref('national_cities') }}
),

consideration_scores as (
    select * from {{ ref('stg_exports__consideration_scores') }}
    where grain = 'quarter'
),

composite_scores as (
    select * from {{ ref('stg_exports__composite_scores') }}
    where grain = 'quarter'
),

final as (
    select
        consideration_scores.city_slug,
        cities.city_name,
        consideration_scores.consideration,
        consideration_scores.period_start,
        consideration_scores.score,
        consideration_scores.status,
        composite_scores.score as composite_score,
        consideration_scores.method_version,
        cities.is_comparable
    from consideration_scores
    inner join cities on consideration_scores.city_slug = cities.city_slug
    left join composite_scores
        on
            consideration_scores.city_slug = composite_scores.city_slug
            and consideration_scores.period_start = composite_scores.period_start
)

select * from final
