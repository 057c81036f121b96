with

districts as (
    select * from {{ ref('stg_reference__districts') }}
),

population as (
    select
        district_code,
        sum(population) as population
    from {{ ref('stg_reference__population') }}
    group by district_code
),

boundaries as (
    select * from {{ ref('stg_reference__district_boundaries') }}
),

final as (
    select
        cast(districts.district_code as varchar) as district_code,
        cast(districts.district_name as varchar) as district_name,
        cast(population.population as bigint) as population,
        cast(districts.digital_access_rate as double) as digital_access_rate,
        cast(boundaries.geometry_json as varchar) as geometry_json,
        {{ method_version() }} as method_version
    from districts
    left join population on districts.district_code = population.district_code
    left join boundaries on districts.district_code = boundaries.district_code
)

select * from final
