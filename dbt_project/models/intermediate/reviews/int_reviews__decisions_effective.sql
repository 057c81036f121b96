-- The register is append-only: an entry that a later entry corrects (corrects_entry_id) is
-- superseded and dropped; chains of corrections leave only the last entry.
with

decisions as (
    select * from {{ ref('stg_reviews__decisions') }}
),

corrected as (
    select distinct corrects_entry_id as entry_id
    from decisions
    where corrects_entry_id is not null
),

final as (
    select decisions.*
    from decisions
    left join corrected on decisions.entry_id = corrected.entry_id
    where corrected.entry_id is null
)

select * from final
