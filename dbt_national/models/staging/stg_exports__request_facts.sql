-- Request-level facts of the cities that export them (an opt-in of each city). When no city
-- does, an empty relation of the same columns keeps the models downstream valid.
{% set columns = [
    ('city_slug', dbt.type_string()),
    ('request_id', dbt.type_string()),
    ('opened_at', dbt.type_timestamp()),
    ('category', dbt.type_string()),
    ('channel', dbt.type_string()),
    ('is_closed', 'boolean'),
    ('is_responded', 'boolean'),
    ('resolution_hours', 'double'),
    ('response_hours', 'double'),
] %}

with

source as (
    {% if var('has_request_facts') %}
        select * from {{ read_export('request_facts') }}
    {% else %}
        select 1 as no_city_exports_request_facts
    {% endif %}
),

renamed as (
    select {{ typed_columns(columns, from_source=var('has_request_facts')) }}
    from source
    {% if not var('has_request_facts') %}
        where 1 = 0
    {% endif %}
)

select * from renamed
