-- c6_share_on_target: share of the other weighted indicators (city scope, quarter grain, not
-- suppressed, not retired) whose status is green.
with

scored as (
    select * from {{ ref('int_indicators__values_base_scored') }}
),

final as (
    select
        'c6_share_on_target' as indicator_id,
        period_start,
        grain,
        scope,
        avg(case when status = 'green' then 1.0 else 0.0 end) as value,
        count(*) as n
    from scored
    where
        scope = 'city'
        and grain = 'quarter'
        and weight > 0
        and not is_retired
        and status <> 'suppressed'
    group by period_start, grain, scope
)

select
    cast(indicator_id as varchar) as indicator_id,
    cast(period_start as date) as period_start,
    cast(grain as varchar) as grain,
    cast(scope as varchar) as scope,
    cast(value as double) as value,
    cast(n as bigint) as n
from final
