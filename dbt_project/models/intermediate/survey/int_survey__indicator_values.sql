-- Survey indicators (considerations 1, 2, 4), quarter grain.
with

estimates as (
    select * from {{ ref('int_survey__group_estimates') }}
),

answers as (
    select * from {{ ref('int_survey__answers_weighted') }}
),

respondents as (
    select * from {{ ref('stg_survey__respondents') }}
),

population as (
    select
        district_code,
        sum(population) as adults
    from {{ ref('stg_reference__population') }}
    group by district_code
),

shares as (
    select
        case question_id
            when 'city_listens' then 'c1_city_listens'
            when 'trust_city' then 'c4_trust'
            when 'took_part_consultation' then 'c4_consultation_participation'
        end as indicator_id,
        period_start,
        case when group_type = 'city' then 'city' else group_value end as scope,
        weighted as value,
        n
    from estimates
    where
        question_id in ('city_listens', 'trust_city', 'took_part_consultation')
        and group_type in ('city', 'district')
),

weighting_gap as (
    select
        'c2_weighting_gap' as indicator_id,
        period_start,
        'city' as scope,
        abs(weighted - unweighted) as value,
        n
    from estimates
    where question_id = 'trust_city' and group_type = 'city'
),

satisfaction_gap as (
    select
        'c4_satisfaction_gap' as indicator_id,
        period_start,
        'city' as scope,
        max(weighted) - min(weighted) as value,
        sum(n) as n
    from estimates
    where question_id = 'satisfied_services' and group_type = 'age_band'
    group by period_start
),

digital_takeup_gap as (
    select
        'c2_digital_takeup_gap' as indicator_id,
        youngest.period_start,
        'city' as scope,
        youngest.weighted - oldest.weighted as value,
        city.n
    from estimates as youngest
    inner join estimates as oldest
        on
            youngest.period_start = oldest.period_start
            and oldest.question_id = 'used_digital_channel'
            and oldest.group_type = 'age_band'
            and oldest.group_value = '75+'
    inner join estimates as city
        on
            youngest.period_start = city.period_start
            and city.question_id = 'used_digital_channel'
            and city.group_type = 'city'
    where
        youngest.question_id = 'used_digital_channel'
        and youngest.group_type = 'age_band'
        and youngest.group_value = '18-34'
),

participation as (
    -- respondents with at least one weighted answer, per quarter and district
    select
        respondents.period_start,
        respondents.district_code,
        count(distinct respondents.respondent_id) as respondents
    from respondents
    where
        exists (
            select 1 from answers
            where answers.respondent_id = respondents.respondent_id and answers.wave = respondents.wave
        )
    group by respondents.period_start, respondents.district_code
),

city_participation as (
    select
        participation.period_start,
        sum(participation.respondents) as respondents,
        sum(participation.respondents)
        / (select sum(population.adults) from population) * 1000.0 as rate_per_1k
    from participation
    group by participation.period_start
),

district_participation as (
    select
        periods.period_start,
        population.district_code,
        coalesce(participation.respondents, 0) / population.adults * 1000.0 as rate_per_1k
    from (select distinct responses.period_start from participation as responses) as periods
    cross join population
    left join participation
        on
            periods.period_start = participation.period_start
            and population.district_code = participation.district_code
    where population.adults > 0
),

participation_coverage as (
    select
        'c4_participation_coverage' as indicator_id,
        district_participation.period_start,
        'city' as scope,
        avg(
            case
                when district_participation.rate_per_1k >= 0.5 * city_participation.rate_per_1k then 1.0
                else 0.0
            end
        ) as value,
        any_value(city_participation.respondents) as n
    from district_participation
    inner join city_participation
        on district_participation.period_start = city_participation.period_start
    group by district_participation.period_start
),

final as (
    select * from shares
    union all
    select * from weighting_gap
    union all
    select * from satisfaction_gap
    union all
    select * from digital_takeup_gap
    union all
    select * from participation_coverage
)

select
    indicator_id,
    period_start,
    'quarter' as grain,
    scope,
    cast(value as double) as value,
    cast(n as bigint) as n
from final
