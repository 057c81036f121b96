with

source as (
    select * from {{ source('raw', 'population') }}
),

renamed as (
    select
        upper(trim(district_code)) as district_code,
        trim(age_band) as age_band,
        upper(trim(sex)) as sex,
        cast(population as bigint) as population
    from source
)

select * from renamed
