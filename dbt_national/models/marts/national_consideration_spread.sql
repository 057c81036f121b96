-- Consideration x quarter: the spread of scores across the comparable cities (min, quartiles,
-- median, max, interquartile range). Quantiles are exact with linear interpolation on every engine.
with

scores as (
    select * from {{ ref('national_city_scores') }}
    where score is not null
),

spread as (
    select
        consideration,
        period_start,
        sum(case when is_comparable then 1 else 0 end) as n_cities,
        sum(case when is_comparable then 0 else 1 end) as n_not_comparable,
        min(case when is_comparable then score end) as min_score,
        {{ percentile_cont('case when is_comparable then score end', 0.25) }} as p25_score,
        {{ percentile_cont('case when is_comparable then score end', 0.5) }} as median_score,
        {{ percentile_cont('case when is_comparable then score end', 0.75) }} as p75_score,
        max(case when is_comparable then score end) as max_score
    from scores
    group by consideration, period_start
),

final as (
    select
        consideration,
        period_start,
        cast(n_cities as bigint) as n_cities,
        cast(n_not_comparable as bigint) as n_not_comparable,
        min_score,
        p25_score,
        median_score,
        p75_score,
        max_score,
        p75_score - p25_score as iqr
    from spread
)

select * from final
