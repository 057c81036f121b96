-- How the composite moves under alternative weightings, per period and grain:
--   catalogue               the published composite (catalogue weights; = marts.composite_scores)
--   equal_within            every scored indicator (catalogue weight > 0) weighs the same inside
--                           its consideration; the composite is still the mean of considerations
--   equal_indicators        one flat mean over all scored indicators, ignoring considerations
--                           (considerations with many indicators then count for more)
--   drop_consideration_<c>  the catalogue composite without consideration c (mean of the others)
-- Same inputs as the published scores: city scope, not suppressed, not retired.
with

indicator_values as (
    select * from {{ ref('indicator_values') }}
    where scope = 'city' and weight > 0 and not is_retired and status <> 'suppressed'
),

consideration_scores as (
    select * from {{ ref('consideration_scores') }}
    where score is not null
),

composite as (
    select * from {{ ref('composite_scores') }}
),

catalogue as (
    select
        period_start,
        grain,
        'catalogue' as weighting,
        cast(null as integer) as dropped_consideration,
        avg(score) as score,
        count(*) as n_considerations
    from consideration_scores
    group by period_start, grain
),

equal_within_considerations as (
    select
        period_start,
        grain,
        consideration,
        avg(score) as score
    from indicator_values
    group by period_start, grain, consideration
),

equal_within as (
    select
        period_start,
        grain,
        'equal_within' as weighting,
        cast(null as integer) as dropped_consideration,
        avg(score) as score,
        count(*) as n_considerations
    from equal_within_considerations
    group by period_start, grain
),

equal_indicators as (
    select
        period_start,
        grain,
        'equal_indicators' as weighting,
        cast(null as integer) as dropped_consideration,
        avg(score) as score,
        count(distinct consideration) as n_considerations
    from indicator_values
    group by period_start, grain
),

considerations as (
    select distinct consideration from {{ ref('seed_indicator_catalog') }}
),

drop_one as (
    select
        composite.period_start,
        composite.grain,
        'drop_consideration_' || considerations.consideration as weighting,
        considerations.consideration as dropped_consideration,
        avg(consideration_scores.score) as score,
        count(consideration_scores.score) as n_considerations
    from composite
    cross join considerations
    left join consideration_scores
        on
            composite.period_start = consideration_scores.period_start
            and composite.grain = consideration_scores.grain
            and considerations.consideration <> consideration_scores.consideration
    group by composite.period_start, composite.grain, considerations.consideration
),

unioned as (
    select * from catalogue
    union all
    select * from equal_within
    union all
    select * from equal_indicators
    union all
    select * from drop_one
),

final as (
    select
        cast(unioned.period_start as date) as period_start,
        cast(unioned.grain as varchar) as grain,
        cast(unioned.weighting as varchar) as weighting,
        cast(unioned.dropped_consideration as integer) as dropped_consideration,
        cast(unioned.score as double) as score,
        cast(unioned.score - composite.score as double) as change_from_catalogue,
        cast(unioned.n_considerations as bigint) as n_considerations,
        {{ score_status('unioned.score') }} as status,
        {{ method_version() }} as method_version
    from unioned
    inner join composite
        on unioned.period_start = composite.period_start and unioned.grain = composite.grain
)

select * from final
