-- Group estimates of the questions a codebook maps to a catalogue indicator, keyed by the
-- indicator: the survey indicator models read answers through this mapping, never by question id.
with

estimates as (
    select * from {{ ref('int_survey__group_estimates') }}
),

questions as (
    select * from {{ ref('stg_survey__questions') }}
    where indicator_id is not null
),

mapped as (
    -- one row per file of a wave, and several waves may share a quarter (2015 and 2015Q1): the
    -- estimates already pool them, so keep one mapping row per quarter and question
    select distinct
        period_start,
        question_id,
        indicator_id
    from questions
),

final as (
    select
        mapped.indicator_id,
        estimates.*
    from estimates
    inner join mapped
        on estimates.period_start = mapped.period_start and estimates.question_id = mapped.question_id
)

select * from final
