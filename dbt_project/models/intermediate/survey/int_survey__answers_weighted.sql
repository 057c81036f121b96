-- Answers joined to the respondent's demographics and weight. The raked weight is used; the base
-- weight only when raking has not produced one. Answers without a positive weight are dropped.
with

answers as (
    select * from {{ ref('stg_survey__answers') }}
),

respondents as (
    select * from {{ ref('stg_survey__respondents') }}
),

weights as (
    select * from {{ ref('stg_survey__weights') }}
),

joined as (
    select
        answers.respondent_id,
        answers.wave,
        respondents.period_start,
        answers.question_id,
        answers.consideration,
        answers.value,
        answers.agree,
        respondents.district_code,
        respondents.age_band,
        respondents.sex,
        respondents.digital_access,
        coalesce(weights.raked_weight, weights.base_weight) as weight
    from answers
    inner join respondents
        on answers.respondent_id = respondents.respondent_id and answers.wave = respondents.wave
    left join weights
        on answers.respondent_id = weights.respondent_id and answers.wave = weights.wave
),

final as (
    select * from joined
    where weight > 0
)

select * from final
