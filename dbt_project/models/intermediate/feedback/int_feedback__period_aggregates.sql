-- Funnel counts and duration medians for every period (month, quarter) and scope (city and each
-- reference district), including zero rows for districts without reports in a period.
-- Incremental by period (docs/contracts.md, "Incremental builds"); every period is rebuilt when a
-- source format starts or stops recording first responses (the response-share denominator).
{{ feedback_incremental_config(
    pre_hook="{{ delete_feedback_periods() }}",
    rebuild_all_when_response_recording_changes=true,
) }}

with

enriched as (
    select * from {{ ref('int_feedback__requests_enriched') }}
),

-- A source format that never records a first response (NYC, SF exports) does not say "no
-- response": its requests stay out of the response share instead of counting as 0.
formats as (
    select * from {{ ref('int_feedback__response_recording') }}
),

requests as (
    select
        enriched.*,
        formats.is_response_recorded
    from enriched
    left join formats on enriched.source_format is not distinct from formats.source_format
    {% if is_incremental() %}
        -- whole quarters: a quarter row needs every month of it
        where enriched.quarter_start in {{ feedback_quarters_to_rebuild() }}
    {% endif %}
),

districts as (
    select district_code from {{ ref('stg_reference__districts') }}
),

population as (
    select
        district_code,
        sum(population) as adults
    from {{ ref('stg_reference__population') }}
    group by district_code
),

scoped as (
    select
        *,
        'city' as scope
    from requests
    union all
    select
        *,
        district_code as scope
    from requests
    where district_code is not null
),

gridded as (
    select
        *,
        'month' as grain,
        month_start as period_start
    from scoped
    union all
    select
        *,
        'quarter' as grain,
        quarter_start as period_start
    from scoped
),

rebuilt as (
    select * from gridded
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

periods as (
    -- months with data in the period: a partial latest quarter is not diluted by empty months
    select
        grain,
        period_start,
        count(distinct month_start) as months_observed
    from rebuilt
    where scope = 'city'
    group by grain, period_start
),

scopes as (
    select
        'city' as scope,
        (select sum(adults) from population) as adults
    union all
    select
        districts.district_code as scope,
        population.adults
    from districts
    left join population on districts.district_code = population.district_code
),

grid as (
    select
        periods.grain,
        periods.period_start,
        periods.months_observed,
        scopes.scope,
        scopes.adults
    from periods
    cross join scopes
),

aggregated as (
    select
        grain,
        period_start,
        scope,
        count(*) as received,
        count(*) filter (where is_responded) as responded,
        count(*) filter (where is_response_recorded) as received_response_recorded,
        count(*) filter (where is_closed) as resolved,
        count(*) filter (where is_closed and reopened_count > 0) as reopened,
        -- sources without a reopen field (NYC, SF 311 exports) leave reopened_count NULL
        count(*) filter (where is_closed and reopened_count is not null) as resolved_reopen_known,
        count(*) filter (where is_closed and fixed_confirmed is not null) as asked_fixed,
        count(*) filter (where is_closed and fixed_confirmed) as confirmed_fixed,
        count(*) filter (where is_repeat) as repeats,
        count(sentiment) as n_scored,
        -- VADER's own cut-offs for a negative / positive text
        count(*) filter (where sentiment < -0.05) as negative_reports,
        count(*) filter (where sentiment > 0.05) as positive_reports,
        count(response_hours) as n_response_hours,
        median(response_hours) as median_response_hours
    from rebuilt
    group by grain, period_start, scope
),

final as (
    select
        grid.grain,
        grid.period_start,
        grid.scope,
        grid.months_observed,
        grid.adults,
        coalesce(aggregated.received, 0) as received,
        coalesce(aggregated.responded, 0) as responded,
        coalesce(aggregated.received_response_recorded, 0) as received_response_recorded,
        coalesce(aggregated.resolved, 0) as resolved,
        coalesce(aggregated.reopened, 0) as reopened,
        coalesce(aggregated.resolved_reopen_known, 0) as resolved_reopen_known,
        coalesce(aggregated.asked_fixed, 0) as asked_fixed,
        coalesce(aggregated.confirmed_fixed, 0) as confirmed_fixed,
        coalesce(aggregated.repeats, 0) as repeats,
        coalesce(aggregated.n_scored, 0) as n_scored,
        coalesce(aggregated.negative_reports, 0) as negative_reports,
        coalesce(aggregated.positive_reports, 0) as positive_reports,
        coalesce(aggregated.n_response_hours, 0) as n_response_hours,
        aggregated.median_response_hours
    from grid
    left join aggregated
        on
            grid.grain = aggregated.grain
            and grid.period_start = aggregated.period_start
            and grid.scope = aggregated.scope
)

select * from final
