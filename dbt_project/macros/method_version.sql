{#- The scoring method version every mart carries (var method_version, docs/indicators.md). -#}
{% macro method_version() -%}
    cast('{{ var("method_version") }}' as varchar)
{%- endmacro %}
