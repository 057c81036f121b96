with

source as (
    select * from {{ read_export('indicator_catalog', partitioned=false) }}
),

renamed as (
    select
        cast(city_slug as {{ dbt.type_string() }}) as city_slug,
        cast(indicator_id as {{ dbt.type_string() }}) as indicator_id,
        cast(consideration as integer) as consideration,
        cast(name as {{ dbt.type_string() }}) as indicator_name,
        cast(source as {{ dbt.type_string() }}) as evidence_source
    from source
)

select * from renamed
