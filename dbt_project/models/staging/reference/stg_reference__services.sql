with

source as (
    select * from {{ source('raw', 'services') }}
),

renamed as (
    select
        upper(trim(service_code)) as service_code,
        trim(service_name) as service_name,
        trim(category) as category,
        trim(agency) as agency,
        cast(sla_days as double) as sla_days
    from source
)

select * from renamed
