with

source as (
    select * from {{ read_export('indicator_values') }}
),

renamed as (
    select
        cast(city_slug as {{ dbt.type_string() }}) as city_slug,
        cast(indicator_id as {{ dbt.type_string() }}) as indicator_id,
        cast(consideration as integer) as consideration,
        cast(period_start as date) as period_start,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(scope as {{ dbt.type_string() }}) as scope,
        cast(value as double) as value,
        cast(score as double) as score,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(n as bigint) as n
    from source
)

select * from renamed
