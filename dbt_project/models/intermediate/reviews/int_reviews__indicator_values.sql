-- Review-cycle indicators (consideration 6), quarter grain, city scope.
with

decisions as (
    select * from {{ ref('stg_reviews__decisions') }}
),

effective as (
    select * from {{ ref('int_reviews__decisions_effective') }}
),

feedback_quarters as (
    select distinct period_start
    from {{ ref('int_feedback__period_aggregates') }}
    where grain = 'quarter'
),

review_dates as (
    -- the review happened when its first entry was recorded (corrected entries count too)
    select
        review_quarter_start as period_start,
        min(recorded_at) as first_recorded_at
    from decisions
    group by review_quarter_start
),

quarters as (
    select period_start from feedback_quarters
    union
    select period_start from review_dates
),

reviews_on_schedule as (
    select
        'c6_reviews_on_schedule' as indicator_id,
        quarters.period_start,
        case
            when
                review_dates.first_recorded_at
                <= quarters.period_start + interval 3 month + interval {{ var('review_due_days') }} day
                then 1.0
            else 0.0
        end as value,
        1 as n
    from quarters
    left join review_dates on quarters.period_start = review_dates.period_start
    -- a quarter without a review counts only once its deadline has passed
    where
        review_dates.first_recorded_at is not null
        or quarters.period_start + interval 3 month + interval {{ var('review_due_days') }} day
        < current_date
),

actions as (
    select
        cast(date_trunc('quarter', action_due) as date) as period_start,
        action_status = 'done' and action_completed_on <= action_due as is_on_time
    from effective
    where
        decision = 'add_action'
        and action_due is not null
        -- not yet assessable: open and not yet due
        and (action_status = 'done' or action_due < current_date)
),

actions_on_time as (
    select
        'c6_actions_on_time' as indicator_id,
        period_start,
        avg(case when is_on_time then 1.0 else 0.0 end) as value,
        count(*) as n
    from actions
    group by period_start
),

targets_revised_with_reason as (
    select
        'c6_targets_revised_with_reason' as indicator_id,
        review_quarter_start as period_start,
        avg(case when rationale is not null then 1.0 else 0.0 end) as value,
        count(*) as n
    from effective
    where decision = 'revise_target'
    group by review_quarter_start
),

final as (
    select * from reviews_on_schedule
    union all
    select * from actions_on_time
    union all
    select * from targets_revised_with_reason
)

select
    indicator_id,
    period_start,
    'quarter' as grain,
    'city' as scope,
    cast(value as double) as value,
    cast(n as bigint) as n
from final
