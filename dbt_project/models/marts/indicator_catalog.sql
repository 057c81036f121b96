with

catalog as (
    select * from {{ ref('seed_indicator_catalog') }}
),

retirements as (
    select * from {{ ref('int_indicators__retirements') }}
),

final as (
    select
        cast(catalog.indicator_id as varchar) as indicator_id,
        cast(catalog.consideration as integer) as consideration,
        cast(catalog.name as varchar) as name,
        cast(catalog.definition as varchar) as definition,
        cast(catalog.unit as varchar) as unit,
        cast(catalog.direction as varchar) as direction,
        cast(catalog.weight as double) as weight,
        cast(catalog.target_rule as varchar) as target_rule,
        cast(catalog.formula as varchar) as formula,
        cast(catalog.source as varchar) as source,
        cast(catalog.min_n as integer) as min_n,
        cast(catalog.default_target as double) as default_target,
        cast(catalog.grain as varchar) as grain,
        cast(catalog.target_set_by as varchar) as target_set_by,
        cast(catalog.target_set_on as date) as target_set_on,
        cast(catalog.target_reason as varchar) as target_reason,
        cast(retirements.retired_from as date) as retired_from,
        cast(retirements.rationale as varchar) as retired_reason,
        {{ method_version() }} as method_version
    from catalog
    left join retirements on catalog.indicator_id = retirements.indicator_id
)

select * from final
