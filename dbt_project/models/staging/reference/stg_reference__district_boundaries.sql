with

source as (
    select * from {{ source('raw', 'district_boundaries') }}
),

renamed as (
    select
        upper(trim(district_code)) as district_code,
        geometry_json
    from source
)

select * from renamed
