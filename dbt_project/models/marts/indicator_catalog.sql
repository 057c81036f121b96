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
        cast(consideration as integer) as consideration,
        cast(name as varchar) as name,
        cast(definition as varchar) as definition,
        cast(unit as varchar) as unit,
        cast(direction as varchar) as direction,
        cast(weight as double) as weight,
        cast(target_rule as varchar) as target_rule,
        cast(formula as varchar) as formula,
        cast(source as varchar) as source,
        cast(min_n as integer) as min_n,
        cast(default_target as double) as default_target,
        cast(grain as varchar) as grain,
        cast(retirements.retired_from as date) as retired_from,
        cast(retirements.rationale as varchar) as retired_reason,
        {{ method_version() }} as method_version
    from catalog
    left join retirements on catalog.indicator_id = retirements.indicator_id
)

select * from final
