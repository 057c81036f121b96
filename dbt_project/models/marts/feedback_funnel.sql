with

aggregates as (
    select * from {{ ref('int_feedback__period_aggregates') }}
),

final as (
    select
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(scope as varchar) as scope,
        cast(received as bigint) as received,
        cast(responded as bigint) as responded,
        cast(resolved as bigint) as resolved,
        cast(confirmed_fixed as bigint) as confirmed_fixed,
        {{ method_version() }} as method_version
    from aggregates
)

select * from final
