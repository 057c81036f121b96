-- Incremental by day (macros/feedback_incremental.sql): only days whose requests or text scores
-- changed since the last build are rebuilt.
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_days('opened_at') }}") }}

with

requests as (
    select * from {{ ref('stg_feedback__requests') }}
    {% if is_incremental() %}
        where {{ feedback_timestamp_in_days_to_rebuild('opened_at') }}
    {% endif %}
),

text_scores as (
    select * from {{ ref('stg_feedback__text_scores') }}
),

final as (
    select
        cast(requests.request_id as varchar) as request_id,
        cast(requests.opened_at as timestamp) as opened_at,
        cast(requests.district_code as varchar) as district_code,
        cast(requests.category as varchar) as category,
        cast(requests.channel as varchar) as channel,
        cast(requests.status as varchar) as status,
        cast(requests.description as varchar) as description,
        cast(text_scores.sentiment as double) as sentiment,
        cast(text_scores.topic_label as varchar) as topic_label,
        {{ method_version() }} as method_version
    from requests
    left join text_scores on requests.request_id = text_scores.request_id
    where requests.description is not null and trim(requests.description) <> ''
)

select * from final
