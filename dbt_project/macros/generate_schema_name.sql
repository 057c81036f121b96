{#- Custom schema names are used verbatim (staging, intermediate, marts, seeds), not prefixed with
    the target schema, so the published layout is the same in every environment. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
