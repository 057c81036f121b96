-- Incremental by month (docs/contracts.md, "Incremental builds").
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_months('period_start') }}") }}

with

requests as (
    select * from {{ ref('int_feedback__requests_enriched') }}
    {% if is_incremental() %}
        where month_start in {{ feedback_months_to_rebuild() }}
    {% endif %}
),

text_scores as (
    select * from {{ ref('stg_feedback__text_scores') }}
),

scored as (
    select
        requests.month_start,
        requests.district_code,
        text_scores.topic_label,
        text_scores.sentiment
    from requests
    inner join text_scores on requests.request_id = text_scores.request_id
    where text_scores.topic_label is not null
),

scoped as (
    select
        *,
        'city' as scope
    from scored
    union all
    select
        *,
        district_code as scope
    from scored
    where district_code is not null
),

final as (
    select
        cast(month_start as date) as period_start,
        cast(scope as varchar) as scope,
        cast(topic_label as varchar) as topic_label,
        cast(count(*) as bigint) as n,
        cast(avg(sentiment) as double) as mean_sentiment,
        {{ method_version() }} as method_version
    from scoped
    group by month_start, scope, topic_label
)

select * from final
