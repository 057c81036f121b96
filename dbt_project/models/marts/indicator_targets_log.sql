-- The target snapshot (snapshots/indicator_targets_snapshot.yml) as a mart, so the published file
-- can answer "what did the targets look like as of build X" and "what changed between builds".
with

snapshot as (
    select * from {{ ref('indicator_targets_snapshot') }}
),

final as (
    select
        cast(indicator_id as varchar) as indicator_id,
        cast(target as double) as target,
        cast(effective_from as date) as effective_from,
        cast(applies_from as date) as applies_from,
        cast(target_rule as varchar) as target_rule,
        cast(set_by as varchar) as set_by,
        cast(set_at as timestamp) as set_at,
        cast(reason as varchar) as reason,
        cast(entry_id as varchar) as entry_id,
        cast(target_version_key as varchar) as target_version_key,
        cast(dbt_valid_from as timestamp) as snapshot_valid_from,
        cast(dbt_valid_to as timestamp) as snapshot_valid_to,
        cast(dbt_valid_to is null as boolean) as is_current,
        {{ method_version() }} as method_version
    from snapshot
)

select * from final
