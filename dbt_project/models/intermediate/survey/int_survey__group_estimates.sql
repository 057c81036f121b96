-- Weighted top-box shares per quarter, question and group, with Kish effective sample size
-- n_eff = (sum w)^2 / sum w^2, design effect n / n_eff and a normal 95% CI using n_eff.
-- Unsuppressed: marts.survey_estimates applies the small-cell rule.
with

answers as (
    select * from {{ ref('int_survey__answers_weighted') }}
    where agree is not null
),

grouped as (
    select
        *,
        'city' as group_type,
        'city' as group_value
    from answers
    union all
    select
        *,
        'district' as group_type,
        district_code as group_value
    from answers
    where district_code is not null
    union all
    select
        *,
        'age_band' as group_type,
        age_band as group_value
    from answers
    where age_band is not null
    union all
    select
        *,
        'sex' as group_type,
        sex as group_value
    from answers
    where sex is not null
    union all
    select
        *,
        'digital_access' as group_type,
        case when digital_access then 'yes' else 'no' end as group_value
    from answers
    where digital_access is not null
),

estimates as (
    select
        period_start,
        question_id,
        max(consideration) as consideration,
        group_type,
        group_value,
        count(*) as n,
        avg(case when agree then 1.0 else 0.0 end) as unweighted,
        sum(case when agree then weight else 0.0 end) / sum(weight) as weighted,
        sum(weight) * sum(weight) / sum(weight * weight) as n_eff
    from grouped
    group by period_start, question_id, group_type, group_value
),

final as (
    select
        *,
        n / n_eff as design_effect,
        greatest(0.0, weighted - 1.96 * sqrt(weighted * (1 - weighted) / n_eff)) as ci_low,
        least(1.0, weighted + 1.96 * sqrt(weighted * (1 - weighted) / n_eff)) as ci_high
    from estimates
)

select * from final
