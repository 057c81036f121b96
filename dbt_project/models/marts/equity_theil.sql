with

theil as (
    select * from {{ ref('int_equity__theil') }}
),

final as (
    select
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(theil_t as double) as theil_t,
        cast(between_district as double) as between_district,
        cast(within_district as double) as within_district,
        cast(between_share as double) as between_share,
        cast(n as bigint) as n,
        cast(n_districts as bigint) as n_districts,
        {{ method_version() }} as method_version
    from theil
)

select * from final
