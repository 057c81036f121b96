-- Per period, service code and district: closed requests, the district's median resolution hours
-- and the median of all other districts' requests of the same service (input of the disparity
-- ratio and of marts.equity_district_resolution). Incremental by period: the months rebuilt
-- upstream and their quarters (macros/feedback_incremental.sql).
--
-- The median of the others is found without joining each district to every other district's
-- requests (rows x districts, 8 s at 1M requests and 50 wards): with the period's requests in one
-- order (position), the k-th of the others is at position k + j, where j counts the district's own
-- requests that have at most k others before them. Same values as median() (its interpolation,
-- lo + (hi - lo) * 0.5, included); 2.2 s at 50 wards, unchanged at 12 districts.
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_periods() }}") }}

with

closed as (
    select * from {{ ref('int_equity__closed_requests_by_period') }}
    {% if is_incremental() %}
        where {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

positioned as (
    select
        grain,
        period_start,
        service_code,
        district_code,
        resolution_hours,
        row_number() over (
            partition by grain, period_start, service_code
            order by resolution_hours, district_code
        ) - 1 as position
    from closed
),

ranked as (
    select
        *,
        position + 1 - row_number() over (
            partition by grain, period_start, service_code, district_code
            order by position
        ) as others_before
    from positioned
),

district_medians as (
    select
        grain,
        period_start,
        service_code,
        district_code,
        count(*) as n_closed,
        median(resolution_hours) as median_district
    from closed
    group by grain, period_start, service_code, district_code
),

with_others as (
    select
        *,
        sum(n_closed) over (partition by grain, period_start, service_code) - n_closed as n_others
    from district_medians
),

-- The lower and upper middle ranks (0-based) among the other districts' requests; they are equal
-- for an odd count. A district alone in its period and service has no others and no row.
middle_ranks as (
    select
        *,
        (n_others - 1) // 2 as lower_rank,
        n_others // 2 as upper_rank
    from with_others
    where n_others > 0
),

-- A district's k-th other request sits at position k + (its own requests with at most k others
-- before them).
middle_positions as (
    select
        middle_ranks.grain,
        middle_ranks.period_start,
        middle_ranks.service_code,
        middle_ranks.district_code,
        middle_ranks.n_closed,
        middle_ranks.median_district,
        middle_ranks.lower_rank,
        middle_ranks.upper_rank,
        count(*) filter (where ranked.others_before <= middle_ranks.lower_rank) as own_before_lower,
        count(*) filter (where ranked.others_before <= middle_ranks.upper_rank) as own_before_upper
    from middle_ranks
    inner join ranked
        on
            middle_ranks.grain = ranked.grain
            and middle_ranks.period_start = ranked.period_start
            and middle_ranks.service_code = ranked.service_code
            and middle_ranks.district_code = ranked.district_code
    group by all
)

select
    middle_positions.grain,
    middle_positions.period_start,
    middle_positions.service_code,
    middle_positions.district_code,
    middle_positions.n_closed,
    middle_positions.median_district,
    lower_value.resolution_hours
    + (upper_value.resolution_hours - lower_value.resolution_hours) * 0.5 as median_others
from middle_positions
inner join ranked as lower_value
    on
        middle_positions.grain = lower_value.grain
        and middle_positions.period_start = lower_value.period_start
        and middle_positions.service_code = lower_value.service_code
        and middle_positions.lower_rank + middle_positions.own_before_lower = lower_value.position
inner join ranked as upper_value
    on
        middle_positions.grain = upper_value.grain
        and middle_positions.period_start = upper_value.period_start
        and middle_positions.service_code = upper_value.service_code
        and middle_positions.upper_rank + middle_positions.own_before_upper = upper_value.position
