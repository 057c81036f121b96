-- Theil T index of resolution hours with its exact between/within-district decomposition:
-- T = sum_g s_g * ln(mu_g / mu) + sum_g s_g * T_g, where s_g = (n_g / n) * (mu_g / mu).
-- Incremental by period (docs/contracts.md, "Incremental builds").
{{ feedback_incremental_config(pre_hook="{{ delete_feedback_periods() }}") }}

with

closed as (
    select *
    from {{ ref('int_equity__closed_requests_by_period') }}
    where
        resolution_hours > 0
    {% if is_incremental() %}
        and {{ feedback_periods_to_rebuild() }}
    {% endif %}
),

overall as (
    select
        grain,
        period_start,
        avg(resolution_hours) as mu,
        count(*) as n,
        count(distinct district_code) as n_districts
    from closed
    group by grain, period_start
),

total_theil as (
    select
        closed.grain,
        closed.period_start,
        avg((closed.resolution_hours / overall.mu) * ln(closed.resolution_hours / overall.mu)) as theil_t
    from closed
    inner join overall on closed.grain = overall.grain and closed.period_start = overall.period_start
    group by closed.grain, closed.period_start
),

district_groups as (
    select
        grain,
        period_start,
        district_code,
        avg(resolution_hours) as mu_g,
        count(*) as n_g
    from closed
    group by grain, period_start, district_code
),

district_theil as (
    select
        closed.grain,
        closed.period_start,
        closed.district_code,
        avg(
            (closed.resolution_hours / district_groups.mu_g)
            * ln(closed.resolution_hours / district_groups.mu_g)
        ) as theil_g
    from closed
    inner join district_groups
        on
            closed.grain = district_groups.grain
            and closed.period_start = district_groups.period_start
            and closed.district_code = district_groups.district_code
    group by closed.grain, closed.period_start, closed.district_code
),

decomposed as (
    select
        district_groups.grain,
        district_groups.period_start,
        sum(
            (district_groups.n_g / overall.n) * (district_groups.mu_g / overall.mu)
            * ln(district_groups.mu_g / overall.mu)
        ) as between_district,
        sum(
            (district_groups.n_g / overall.n) * (district_groups.mu_g / overall.mu)
            * district_theil.theil_g
        ) as within_district
    from district_groups
    inner join overall
        on district_groups.grain = overall.grain and district_groups.period_start = overall.period_start
    inner join district_theil
        on
            district_groups.grain = district_theil.grain
            and district_groups.period_start = district_theil.period_start
            and district_groups.district_code = district_theil.district_code
    group by district_groups.grain, district_groups.period_start
),

final as (
    select
        overall.grain,
        overall.period_start,
        total_theil.theil_t,
        decomposed.between_district,
        decomposed.within_district,
        case when total_theil.theil_t > 0 then decomposed.between_district / total_theil.theil_t end
            as between_share,
        overall.n,
        overall.n_districts
    from overall
    inner join total_theil
        on overall.grain = total_theil.grain and overall.period_start = total_theil.period_start
    inner join decomposed
        on overall.grain = decomposed.grain and overall.period_start = decomposed.period_start
)

select * from final
