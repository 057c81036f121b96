-- Under-reporting index per district and quarter: (reports per adult / city reports per adult)
-- / (weighted problem rate / city rate), the problem rate being the top-box share of the question
-- the codebook maps to c2_underreporting_index (sample city: problem_in_area). City scope = the
-- lowest district value. n is the number of survey respondents answering that question.
with

feedback as (
    select * from {{ ref('int_feedback__period_aggregates') }}
    where grain = 'quarter'
),

problems as (
    select * from {{ ref('int_survey__indicator_estimates') }}
    where indicator_id = 'c2_underreporting_index' and group_type in ('city', 'district')
),

city_feedback as (
    select
        period_start,
        received / adults as reports_per_adult
    from feedback
    where scope = 'city' and adults > 0
),

city_problems as (
    select
        period_start,
        weighted as problem_rate,
        n
    from problems
    where group_type = 'city'
),

districts as (
    select
        problems.period_start,
        problems.group_value as scope,
        problems.n,
        (feedback.received / feedback.adults) / city_feedback.reports_per_adult
        / (problems.weighted / city_problems.problem_rate) as value
    from problems
    inner join feedback
        on problems.period_start = feedback.period_start and problems.group_value = feedback.scope
    inner join city_feedback on problems.period_start = city_feedback.period_start
    inner join city_problems on problems.period_start = city_problems.period_start
    where
        problems.group_type = 'district'
        and feedback.adults > 0
        and city_feedback.reports_per_adult > 0
        and problems.weighted > 0
        and city_problems.problem_rate > 0
),

city as (
    select
        districts.period_start,
        'city' as scope,
        any_value(city_problems.n) as n,
        min(districts.value) as value
    from districts
    inner join city_problems on districts.period_start = city_problems.period_start
    group by districts.period_start
),

final as (
    select
        period_start,
        scope,
        n,
        value
    from districts
    union all
    select
        period_start,
        scope,
        n,
        value
    from city
)

select * from final
