with

source as (
    select * from {{ source('raw', 'survey_respondents') }}
),

renamed as (
    select
        cast(respondent_id as varchar) as respondent_id,
        trim(wave) as wave,
        cast(period_start as date) as period_start,
        upper(nullif(trim(district_code), '')) as district_code,
        nullif(trim(age_band), '') as age_band,
        upper(nullif(trim(sex), '')) as sex,
        cast(digital_access as boolean) as digital_access,
        source_file
    from source
)

select * from renamed
