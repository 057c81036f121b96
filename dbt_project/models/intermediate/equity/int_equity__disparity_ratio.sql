-- Per service code: max over districts of (district median resolution hours / median resolution
-- hours of all other districts' requests); then the closed-request-volume-weighted mean over
-- service codes that were closed in at least two districts. Incremental by period
-- (docs/contracts.md, "Incremental builds").
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_periods() }}") }}

with

closed as (
    select * from {{ ref('int_equity__closed_requests_by_period') }}
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

against_others as (
    select * from {{ ref('int_equity__district_service_medians') }}
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

per_service as (
    select
        grain,
        period_start,
        service_code,
        max(median_district / median_others) as disparity_ratio
    from against_others
    where median_others > 0
    group by grain, period_start, service_code
),

service_volume as (
    select
        grain,
        period_start,
        service_code,
        count(*) as n_closed
    from closed
    group by grain, period_start, service_code
),

final as (
    select
        per_service.grain,
        per_service.period_start,
        sum(per_service.disparity_ratio * service_volume.n_closed) / sum(service_volume.n_closed)
            as disparity_ratio,
        sum(service_volume.n_closed) as n
    from per_service
    inner join service_volume
        on
            per_service.grain = service_volume.grain
            and per_service.period_start = service_volume.period_start
            and per_service.service_code = service_volume.service_code
    group by per_service.grain, per_service.period_start
)

select * from final
