with

source as (
    select * from {{ read_export('feedback_funnel') }}
),

renamed as (
    select
        cast(city_slug as {{ dbt.type_string() }}) as city_slug,
        cast(period_start as date) as period_start,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(scope as {{ dbt.type_string() }}) as scope,
        cast(received as bigint) as received,
        cast(responded as bigint) as responded,
        cast(resolved as bigint) as resolved,
        cast(confirmed_fixed as bigint) as confirmed_fixed
    from source
)

select * from renamed
