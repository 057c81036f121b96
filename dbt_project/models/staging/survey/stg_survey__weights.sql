with

source as (
    select * from {{ source('raw', 'survey_weights') }}
),

renamed as (
    select
        cast(respondent_id as varchar) as respondent_id,
        trim(wave) as wave,
        cast(base_weight as double) as base_weight,
        cast(raked_weight as double) as raked_weight,
        cast(trimmed as boolean) as trimmed
    from source
)

select * from renamed
