-- Scored indicator values (macro score_indicator_values), each marked stale when it is the newest
-- value of an indicator whose source has stopped delivering: shown, but not as current.
with

scored as (
    {{ score_indicator_values(ref('int_indicators__values')) }}
),

catalog as (
    select
        indicator_id,
        string_split(source, '+') as sources
    from {{ ref('seed_indicator_catalog') }}
),

freshness as (
    select * from {{ ref('source_freshness') }}
),

stale_indicators as (
    select distinct catalog.indicator_id
    from catalog
    inner join freshness
        on list_contains(catalog.sources, freshness.source)
    where freshness.is_stale
),

latest_periods as (
    select
        indicator_id,
        grain,
        max(period_start) as period_start
    from scored
    group by indicator_id, grain
),

final as (
    select
        scored.*,
        coalesce(
            stale_indicators.indicator_id is not null and latest_periods.indicator_id is not null,
            false
        ) as is_stale
    from scored
    left join stale_indicators on scored.indicator_id = stale_indicators.indicator_id
    left join latest_periods
        on
            scored.indicator_id = latest_periods.indicator_id
            and scored.grain = latest_periods.grain
            and scored.period_start = latest_periods.period_start
)

select * from final
