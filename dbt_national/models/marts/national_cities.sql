-- One row per city: what its export covers and whether its figures are comparable with the
-- others. A city built under another scoring method version, or by a civicloop older than the
-- national build accepts, is flagged and left out of the spread, never silently mixed in.
{% set method_reason = [
    "'method version '", "method_version",
    "', the national build expects " ~ var("expected_method_version") ~ "'",
] %}
{% set framework_reason = [
    "'civicloop '", "framework_version", "' is older than " ~ var("min_framework_version") ~ "'",
] %}

with

cities as (
    select * from {{ ref('stg_exports__cities') }}
),

flagged as (
    select
        *,
        method_version <> '{{ var("expected_method_version") }}' as method_differs,
        framework_version_rank < {{ var("min_framework_version_rank") }} as framework_too_old
    from cities
),

final as (
    select
        city_slug,
        city_name,
        population,
        framework_version,
        method_version,
        period_start,
        period_end,
        has_request_facts,
        build_id,
        exported_at,
        (not method_differs and not framework_too_old) as is_comparable,
        case
            when method_differs then {{ dbt.concat(method_reason) }}
            when framework_too_old then {{ dbt.concat(framework_reason) }}
        end as comparability_reason
    from flagged
)

select * from final
