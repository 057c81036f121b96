with

source as (
    select * from {{ read_export('consideration_scores') }}
),

renamed as (
    select
        cast(city_slug as {{ dbt.type_string() }}) as city_slug,
        cast(consideration as integer) as consideration,
        cast(period_start as date) as period_start,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(score as double) as score,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(method_version as {{ dbt.type_string() }}) as method_version
    from source
)

select * from renamed
