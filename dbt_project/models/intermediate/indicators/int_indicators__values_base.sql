-- Every indicator's raw value except c6_share_on_target (which needs the others' statuses), in
-- one long table: indicator_id, period_start, grain, scope, value, n.
with

feedback as (
    select * from {{ ref('int_feedback__indicator_values') }}
),

kpis as (
    select * from {{ ref('int_kpis__indicator_values') }}
),

survey as (
    select * from {{ ref('int_survey__indicator_values') }}
),

reviews as (
    select * from {{ ref('int_reviews__indicator_values') }}
),

theil as (
    select * from {{ ref('int_equity__theil') }}
),

disparity as (
    select * from {{ ref('int_equity__disparity_ratio') }}
),

underreporting as (
    select * from {{ ref('int_equity__underreporting_index') }}
),

equity as (
    select
        'c2_theil_resolution' as indicator_id,
        period_start,
        grain,
        'city' as scope,
        theil_t as value,
        n
    from theil
    union all
    select
        'c2_district_disparity_ratio' as indicator_id,
        period_start,
        grain,
        'city' as scope,
        disparity_ratio as value,
        n
    from disparity
    union all
    select
        'c2_underreporting_index' as indicator_id,
        period_start,
        'quarter' as grain,
        scope,
        value,
        n
    from underreporting
),

unioned as (
    select
        indicator_id,
        period_start,
        grain,
        scope,
        value,
        n
    from feedback
    union all
    select
        indicator_id,
        period_start,
        grain,
        scope,
        value,
        n
    from kpis
    union all
    select
        indicator_id,
        period_start,
        grain,
        scope,
        value,
        n
    from survey
    union all
    select
        indicator_id,
        period_start,
        grain,
        scope,
        value,
        n
    from reviews
    union all
    select
        indicator_id,
        period_start,
        grain,
        scope,
        value,
        n
    from equity
),

final as (
    select
        cast(indicator_id as varchar) as indicator_id,
        cast(period_start as date) as period_start,
        cast(grain as varchar) as grain,
        cast(scope as varchar) as scope,
        cast(value as double) as value,
        cast(n as bigint) as n
    from unioned
)

select * from final
