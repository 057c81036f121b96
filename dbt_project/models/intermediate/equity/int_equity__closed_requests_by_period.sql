-- Closed requests with a valid resolution time and a known district, once per grain; the period
-- is the one the request was opened in (cohort view). Incremental by the month opened
-- (macros/feedback_incremental.sql).
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_months('month_start') }}") }}

with

requests as (
    select * from {{ ref('int_feedback__requests_enriched') }}
    {% if is_incremental() %}
        where month_start in {{ feedback_months_to_rebuild() }}
    {% endif %}
),

districts as (
    select district_code from {{ ref('stg_reference__districts') }}
),

closed as (
    select
        requests.request_id,
        requests.service_code,
        requests.district_code,
        requests.month_start,
        requests.quarter_start,
        requests.resolution_hours
    from requests
    inner join districts on requests.district_code = districts.district_code
    where requests.resolution_hours is not null
),

final as (
    select
        *,
        'month' as grain,
        month_start as period_start
    from closed
    union all
    select
        *,
        'quarter' as grain,
        quarter_start as period_start
    from closed
)

select
    grain,
    period_start,
    month_start,
    request_id,
    service_code,
    district_code,
    resolution_hours
from final
