{#-
    Scoring method 1.0 (docs/contracts.md), applied to a long relation of indicator values
    (indicator_id, period_start, grain, scope, value, n):
    - suppressed (value, target, score NULL) when n < the catalogue's min_n or no value;
    - target: the target version in force at period_start (catalogue default, then review
      revisions); for rule history_mean_minus_sd the mean of the earlier reportable values of the
      same indicator, grain and scope minus one standard deviation (plus one when lower is better),
      once history_min_periods earlier values exist, else the default;
    - score = value / target (higher is better) or target / value (lower is better), capped at
      score_cap and floored at 0; a non-positive value where lower is better scores the cap;
    - status green >= green_threshold, amber >= amber_threshold, else red;
    - is_retired: the indicator was retired (retire_indicator decision) on or before period_start;
      its value and status stay visible, but consideration scores and c6_share_on_target skip it.
-#}
{% macro score_indicator_values(values_relation) %}
with

indicator_values as (
    select * from {{ values_relation }}
),

catalog as (
    select * from {{ ref('seed_indicator_catalog') }}
),

target_versions as (
    select * from {{ ref('int_indicators__target_versions') }}
),

retirements as (
    select * from {{ ref('int_indicators__retirements') }}
),

with_catalog as (
    select
        indicator_values.*,
        catalog.consideration,
        catalog.direction,
        catalog.weight,
        catalog.min_n,
        coalesce(indicator_values.n, 0) >= catalog.min_n
        and indicator_values.value is not null as has_value
    from indicator_values
    inner join catalog on indicator_values.indicator_id = catalog.indicator_id
),

with_history as (
    select
        *,
        avg(case when has_value then value end) over earlier as history_mean,
        stddev_samp(case when has_value then value end) over earlier as history_sd,
        count(case when has_value then value end) over earlier as history_periods
    from with_catalog
    window earlier as (
        partition by indicator_id, grain, scope
        order by period_start
        rows between unbounded preceding and 1 preceding
    )
),

with_version as (
    select
        with_history.*,
        target_versions.target as version_target,
        target_versions.target_rule as version_rule
    from with_history
    left join target_versions
        on
            with_history.indicator_id = target_versions.indicator_id
            and with_history.period_start >= target_versions.applies_from
            and (target_versions.applies_to is null or with_history.period_start < target_versions.applies_to)
),

targeted as (
    select
        *,
        case
            when
                version_rule = 'history_mean_minus_sd'
                and history_periods >= {{ var('history_min_periods') }}
                then
                    case
                        when direction = 'higher_is_better' then history_mean - history_sd
                        else history_mean + history_sd
                    end
            else version_target
        end as target
    from with_version
),

scored as (
    select
        targeted.*,
        retirements.retired_from,
        has_value and target is not null as is_reportable,
        case
            when not (has_value and target is not null) then null
            when direction = 'higher_is_better' then
                case
                    when target <= 0 then {{ var('score_cap') }}
                    else greatest(0.0, least({{ var('score_cap') }}, value / target))
                end
            else
                case
                    when value <= 0 then {{ var('score_cap') }}
                    else greatest(0.0, least({{ var('score_cap') }}, target / value))
                end
        end as score
    from targeted
    left join retirements on targeted.indicator_id = retirements.indicator_id
),

final as (
    select
        cast(indicator_id as varchar) as indicator_id,
        cast(consideration as integer) as consideration,
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(scope as varchar) as scope,
        cast(case when is_reportable then value end as double) as value,
        cast(target as double) as target,
        cast(score as double) as score,
        {{ score_status('score', suppressed_when='not is_reportable') }} as status,
        cast(n as bigint) as n,
        cast(min_n as integer) as min_n,
        cast(weight as double) as weight,
        cast(direction as varchar) as direction,
        cast(version_rule as varchar) as target_rule,
        {{ method_version() }} as method_version,
        cast(coalesce(period_start >= retired_from, false) as boolean) as is_retired
    from scored
)

select * from final
{% endmacro %}
