with

indicator_values as (
    select * from {{ ref('indicator_values') }}
),

city as (
    select * from indicator_values
    where scope = 'city' and weight > 0
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
        cast(
            case
                when score is null then 'suppressed'
                when score >= {{ var('green_threshold') }} then 'green'
                when score >= {{ var('amber_threshold') }} then 'amber'
                else 'red'
            end as varchar
        ) as status,
        cast(n_indicators as bigint) as n_indicators,
        cast('{{ var("method_version") }}' as varchar) as method_version
    from aggregated
)

select * from final
