-- Cells with n below var survey_min_n are suppressed: estimates NULL, n kept.
with

estimates as (
    select * from {{ ref('int_survey__group_estimates') }}
),

flagged as (
    select *, n < {{ var('survey_min_n') }} as is_suppressed
    from estimates
),

final as (
    select
        cast(period_start as date) as period_start,
        cast(question_id as varchar) as question_id,
        cast(consideration as integer) as consideration,
        cast(group_type as varchar) as group_type,
        cast(group_value as varchar) as group_value,
        cast(n as bigint) as n,
        cast(case when not is_suppressed then unweighted end as double) as unweighted,
        cast(case when not is_suppressed then weighted end as double) as weighted,
        cast(case when not is_suppressed then n_eff end as double) as n_eff,
        cast(case when not is_suppressed then design_effect end as double) as design_effect,
        cast(case when not is_suppressed then ci_low end as double) as ci_low,
        cast(case when not is_suppressed then ci_high end as double) as ci_high,
        cast(is_suppressed as boolean) as suppressed,
        {{ method_version() }} as method_version
    from flagged
)

select * from final
