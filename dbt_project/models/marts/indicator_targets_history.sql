with

versions as (
    select * from {{ ref('int_indicators__target_versions') }}
),

final as (
    select
        cast(indicator_id as varchar) as indicator_id,
        cast(target as double) as target,
        cast(effective_from as date) as effective_from,
        cast(target_rule as varchar) as target_rule,
        cast(set_by as varchar) as set_by,
        cast(set_at as timestamp) as set_at,
        cast(reason as varchar) as reason,
        cast(version_number as bigint) as version_number,
        cast(entry_id as varchar) as entry_id,
        {{ method_version() }} as method_version
    from versions
)

select * from final
