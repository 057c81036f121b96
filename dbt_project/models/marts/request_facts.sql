-- One row per service request with the facts the national rollup needs (docs/contracts.md,
-- "Federation"): no text, no pseudonym, no coordinates. Incremental by day, like
-- resident_comments: only days whose requests changed are rebuilt.
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_days('opened_at') }}") }}

with

requests as (
    select * from {{ ref('int_feedback__requests_enriched') }}
    {% if is_incremental() %}
        where {{ feedback_timestamp_in_days_to_rebuild('opened_at') }}
    {% endif %}
),

final as (
    select
        cast(request_id as varchar) as request_id,
        cast(opened_at as timestamp) as opened_at,
        cast(month_start as date) as month_start,
        cast(district_code as varchar) as district_code,
        cast(service_code as varchar) as service_code,
        cast(category as varchar) as category,
        cast(channel as varchar) as channel,
        cast(status as varchar) as status,
        cast(is_closed as boolean) as is_closed,
        cast(is_responded as boolean) as is_responded,
        cast(resolution_hours as double) as resolution_hours,
        cast(response_hours as double) as response_hours,
        cast(reopened_count as integer) as reopened_count,
        cast(fixed_confirmed as boolean) as fixed_confirmed,
        cast(is_repeat as boolean) as is_repeat,
        {{ method_version() }} as method_version
    from requests
)

select * from final
