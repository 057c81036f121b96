with

source as (
    select * from {{ source('raw', 'kpi_observations') }}
),

renamed as (
    select
        trim(agency) as agency,
        lower(trim(kpi_id)) as kpi_id,
        trim(kpi_name) as kpi_name,
        cast(period_month as date) as period_month,
        cast(actual as double) as actual,
        cast(target as double) as target,
        upper(trim(desired_change)) as desired_change,
        trim(unit) as unit,
        source_file
    from source
)

select * from renamed
