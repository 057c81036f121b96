with

source as (
    select * from {{ source('raw', 'survey_questions') }}
),

renamed as (
    select
        trim(wave) as wave,
        cast(period_start as date) as period_start,
        lower(trim(question_id)) as question_id,
        question_text,
        cast(consideration as integer) as consideration,
        cast(scale_min as double) as scale_min,
        cast(scale_max as double) as scale_max,
        cast(top_box as double) as top_box,
        nullif(lower(trim(indicator_id)), '') as indicator_id,
        codebook,
        source_file
    from source
)

select * from renamed
