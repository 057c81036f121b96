-- Survey indicators (considerations 1, 2, 4), quarter grain. Which question feeds which
-- indicator comes from the codebook (raw.survey_questions.indicator_id), through
-- int_survey__indicator_estimates.
with

estimates as (
    select * from {{ ref('int_survey__indicator_estimates') }}
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
        indicator_id,
        period_start,
        case when group_type = 'city' then 'city' else group_value end as scope,
        weighted as value,
        n
    from estimates
    where
        indicator_id in ('c1_city_listens', 'c4_trust', 'c4_consultation_participation')
        and group_type in ('city', 'district')
),

weighting_gap as (
    -- a diagnostic of the trust estimate: how far weighting moves it
    select
        'c2_weighting_gap' as indicator_id,
        period_start,
        'city' as scope,
        abs(weighted - unweighted) as value,
        n
    from estimates
    where indicator_id = 'c4_trust' and group_type = 'city'
),

age_bands as (
    -- a band below the survey's small-cell size would decide a max - min on its own noise
    select * from estimates
    where group_type = 'age_band' and n >= {{ var('survey_gap_min_band_n') }}
),

satisfaction_gap as (
    select
        'c4_satisfaction_gap' as indicator_id,
        period_start,
        'city' as scope,
        max(weighted) - min(weighted) as value,
        sum(n) as n
    from age_bands
    where indicator_id = 'c4_satisfaction_gap'
    group by period_start
    -- one band is no gap: with fewer than two the value is unknown, not 0
    having count(*) >= 2
),

digital_takeup_gap as (
    select
        'c2_digital_takeup_gap' as indicator_id,
        youngest.period_start,
        'city' as scope,
        youngest.weighted - oldest.weighted as value,
        city.n
    from age_bands as youngest
    inner join age_bands as oldest
        on
            youngest.period_start = oldest.period_start
            and oldest.indicator_id = 'c2_digital_takeup_gap'
            and oldest.group_value = '75+'
    inner join estimates as city
        on
            youngest.period_start = city.period_start
            and city.indicator_id = 'c2_digital_takeup_gap'
            and city.group_type = 'city'
    where
        youngest.indicator_id = 'c2_digital_takeup_gap'
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
        / (select sum(population.adults) from population) * 1000.0 as rate_per_1k,
        -- respondents with no district, or in a district without an adult population, cannot be
        -- set against a population: coverage is then unknown rather than computed on the rest
        coalesce(sum(participation.respondents) filter (
            where participation.district_code is null
            or participation.district_code not in (
                select population.district_code from population
                where population.adults > 0
            )
        ), 0) as respondents_unplaced
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
        case
            when any_value(city_participation.respondents_unplaced) = 0
                then
                    avg(
                        case
                            when district_participation.rate_per_1k >= 0.5 * city_participation.rate_per_1k
                                then 1.0
                            else 0.0
                        end
                    )
        end as value,
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
