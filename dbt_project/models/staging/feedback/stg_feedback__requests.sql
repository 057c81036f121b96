with

source as (
    select * from {{ source('raw', 'feedback_requests') }}
),

renamed as (
    select
        cast(request_id as varchar) as request_id,
        lower(trim(source_format)) as source_format,
        source_file,
        upper(trim(service_code)) as service_code,
        trim(service_name) as service_name,
        trim(category) as category,
        trim(agency) as agency,
        upper(nullif(trim(district_code), '')) as district_code,
        lower(nullif(trim(channel), '')) as channel,
        lower(trim(status)) as status,
        cast(opened_at as timestamp) as opened_at,
        cast(closed_at as timestamp) as closed_at,
        cast(first_response_at as timestamp) as first_response_at,
        cast(reopened_count as integer) as reopened_count,  -- NULL: the source has no reopen count
        cast(fixed_confirmed as boolean) as fixed_confirmed,
        description,
        reporter_pseudonym,
        cast(lat as double) as lat,
        cast(lon as double) as lon,
        cast(updated_at as timestamp) as updated_at,
        record_hash,
        cast(loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
