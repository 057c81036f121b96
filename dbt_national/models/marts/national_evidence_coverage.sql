-- City x evidence source: does the city's export carry that evidence? A source is present when
-- at least one of the city's indicators fed by it has a value (not suppressed) at city scope;
-- request-level facts are present when the city chose to export them.
with

cities as (
    select * from {{ ref('national_cities') }}
),

catalog as (
    select * from {{ ref('stg_exports__indicator_catalog') }}
),

indicator_values as (
    select * from {{ ref('stg_exports__indicator_values') }}
    where scope = 'city' and grain = 'quarter'
),

sources as (
    select 'feedback' as evidence_source
    union all
    select 'kpis' as evidence_source
    union all
    select 'survey' as evidence_source
    union all
    select 'reviews' as evidence_source
),

by_source as (
    select
        indicator_values.city_slug,
        catalog.evidence_source,
        count(distinct indicator_values.indicator_id) as n_indicators,
        sum(case when indicator_values.value is not null then 1 else 0 end) as n_values,
        max(case when indicator_values.value is not null then indicator_values.period_start end)
            as last_period_with_value
    from indicator_values
    inner join catalog
        on
            indicator_values.city_slug = catalog.city_slug
            and indicator_values.indicator_id = catalog.indicator_id
    group by indicator_values.city_slug, catalog.evidence_source
),

marts_evidence as (
    select
        cities.city_slug,
        sources.evidence_source,
        cast(coalesce(by_source.n_indicators, 0) as bigint) as n_indicators,
        cast(coalesce(by_source.n_values, 0) as bigint) as n_values,
        by_source.last_period_with_value,
        coalesce(by_source.n_values, 0) > 0 as is_present
    from cities
    cross join sources
    left join by_source
        on
            cities.city_slug = by_source.city_slug
            and sources.evidence_source = by_source.evidence_source
),

request_evidence as (
    select
        city_slug,
        'request_facts' as evidence_source,
        cast(0 as bigint) as n_indicators,
        cast(0 as bigint) as n_values,
        cast(null as date) as last_period_with_value,
        has_request_facts as is_present
    from cities
),

final as (
    select * from marts_evidence
    union all
    select * from request_evidence
)

select * from final
