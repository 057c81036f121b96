with

consideration_scores as (
    select * from {{ ref('consideration_scores') }}
),

aggregated as (
    select
        period_start,
        grain,
        avg(score) as score,
        count(score) as n_considerations
    from consideration_scores
    group by period_start, grain
),

final as (
    select
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(score as double) as score,
        {{ score_status('score') }} as status,
        {{ method_version() }} as method_version,
        cast(n_considerations as bigint) as n_considerations
    from aggregated
)

select * from final
