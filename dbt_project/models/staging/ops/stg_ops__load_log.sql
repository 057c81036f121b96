with

source as (
    select * from {{ source('ops', 'load_log') }}
),

renamed as (
    select
        file,
        lower(trim(source)) as source,
        sha256,
        lower(trim(status)) as status,
        error,
        cast(rows_read as bigint) as rows_read,
        cast(rows_accepted as bigint) as rows_accepted,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
