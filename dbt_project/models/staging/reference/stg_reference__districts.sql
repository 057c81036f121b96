with

source as (
    select * from {{ source('raw', 'districts') }}
),

renamed as (
    select
        upper(trim(district_code)) as district_code,
        trim(district_name) as district_name,
        cast(digital_access_rate as double) as digital_access_rate
    from source
)

select * from renamed
