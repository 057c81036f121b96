with

indicator_values as (
    select * from {{ ref('indicator_values') }}
),

city as (
    select * from indicator_values
    -- retired indicators (int_indicators__retirements) stop counting from their retired_from
    where scope = 'city' and weight > 0 and not is_retired
),

aggregated as (
    select
        consideration,
        period_start,
        grain,
        sum(weight * score) filter (where status <> 'suppressed')
        / nullif(sum(weight) filter (where status <> 'suppressed'), 0) as score,
        count(*) filter (where status <> 'suppressed') as n_indicators
    from city
    group by consideration, period_start, grain
),

final as (
    select
        cast(consideration as integer) as consideration,
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(score as double) as score,
        {{ score_status('score') }} as status,
        cast(n_indicators as bigint) as n_indicators,
        {{ method_version() }} as method_version
    from aggregated
)

select * from final
