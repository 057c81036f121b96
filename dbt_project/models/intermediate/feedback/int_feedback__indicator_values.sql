-- Feedback indicators (consideration 1 and 5) in long form: one row per indicator, period, scope.
-- The sentiment shares read the VADER scores of the redacted report texts.
with

aggregates as (
    select * from {{ ref('int_feedback__period_aggregates') }}
),

reports_per_1k as (
    select
        'c1_reports_per_1k' as indicator_id,
        period_start,
        grain,
        scope,
        case
            when adults > 0 then received / months_observed / adults * 1000.0
        end as value,
        received as n
    from aggregates
),

repeat_share as (
    select
        'c1_repeat_report_share' as indicator_id,
        period_start,
        grain,
        scope,
        case when received > 0 then repeats / received end as value,
        received as n
    from aggregates
),

response_share as (
    select
        'c5_response_share' as indicator_id,
        period_start,
        grain,
        scope,
        case
            when received_response_recorded > 0 then responded / received_response_recorded
        end as value,
        received_response_recorded as n
    from aggregates
),

median_hours_to_respond as (
    select
        'c5_median_hours_to_respond' as indicator_id,
        period_start,
        grain,
        scope,
        median_response_hours as value,
        n_response_hours as n
    from aggregates
),

reopen_rate as (
    select
        'c5_reopen_rate' as indicator_id,
        period_start,
        grain,
        scope,
        case when resolved_reopen_known > 0 then reopened / resolved_reopen_known end as value,
        resolved_reopen_known as n
    from aggregates
),

fixed_confirmation_rate as (
    select
        'c5_fixed_confirmation_rate' as indicator_id,
        period_start,
        grain,
        scope,
        case when asked_fixed > 0 then confirmed_fixed / asked_fixed end as value,
        asked_fixed as n
    from aggregates
),

negative_report_share as (
    select
        'c1_negative_report_share' as indicator_id,
        period_start,
        grain,
        scope,
        case when n_scored > 0 then negative_reports / n_scored end as value,
        n_scored as n
    from aggregates
),

positive_report_share as (
    select
        'c5_positive_report_share' as indicator_id,
        period_start,
        grain,
        scope,
        case when n_scored > 0 then positive_reports / n_scored end as value,
        n_scored as n
    from aggregates
),

final as (
    select * from reports_per_1k
    union all
    select * from repeat_share
    union all
    select * from response_share
    union all
    select * from median_hours_to_respond
    union all
    select * from reopen_rate
    union all
    select * from fixed_confirmation_rate
    union all
    select * from negative_report_share
    union all
    select * from positive_report_share
)

select
    indicator_id,
    period_start,
    grain,
    scope,
    cast(value as double) as value,
    cast(n as bigint) as n
from final
