with

source as (
    select * from {{ source('raw', 'survey_answers') }}
),

renamed as (
    select
        cast(respondent_id as varchar) as respondent_id,
        trim(wave) as wave,
        lower(trim(question_id)) as question_id,
        cast(consideration as integer) as consideration,
        cast(value as double) as value,
        cast(scale_min as double) as scale_min,
        cast(scale_max as double) as scale_max,
        cast(agree as boolean) as agree
    from source
)

select * from renamed
