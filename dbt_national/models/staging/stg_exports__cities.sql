-- One row per city export: the verified manifest, flattened by `civicloop national build`.
with

source as (
    select * from {{ read_cities() }}
),

renamed as (
    select
        cast(city_slug as {{ dbt.type_string() }}) as city_slug,
        cast(city_name as {{ dbt.type_string() }}) as city_name,
        cast(population as bigint) as population,
        cast(framework_version as {{ dbt.type_string() }}) as framework_version,
        cast(framework_version_rank as bigint) as framework_version_rank,
        cast(method_version as {{ dbt.type_string() }}) as method_version,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(has_request_facts as boolean) as has_request_facts,
        cast(build_id as {{ dbt.type_string() }}) as build_id,
        cast(exported_at as {{ dbt.type_string() }}) as exported_at
    from source
)

select * from renamed
