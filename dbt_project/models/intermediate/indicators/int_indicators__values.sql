-- All indicator values, long form, before scoring.
with

base as (
    select * from {{ ref('int_indicators__values_base') }}
),

share_on_target as (
    select * from {{ ref('int_indicators__share_on_target') }}
),

final as (
    select * from base
    union all
    select * from share_on_target
)

select * from final
