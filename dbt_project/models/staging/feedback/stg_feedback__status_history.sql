with

source as (
    select * from {{ source('raw', 'feedback_status_history') }}
),

renamed as (
    select
        cast(request_id as varchar) as request_id,
        lower(trim(status)) as status,
        cast(updated_at as timestamp) as updated_at,
        source_file,
        cast(loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
