with

source as (
    select * from {{ source('raw', 'feedback_text_scores') }}
),

renamed as (
    select
        cast(request_id as varchar) as request_id,
        cast(sentiment as double) as sentiment,
        cast(topic_id as integer) as topic_id,
        trim(topic_label) as topic_label,
        cast(scored_at as timestamp) as scored_at
    from source
)

select * from renamed
