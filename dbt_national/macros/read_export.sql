{#-
    The rows of one exported table across every city (docs/contracts.md, "Federation"):
    <exports_dir>/city=<slug>/<table>/[period=<date>/]data_0.parquet. Every file carries city_slug
    and its own period column, so the folder names are only a layout; models select columns by
    name. Dispatched per adapter: the one place that knows how each engine reads Parquet.
-#}
{% macro export_glob(table, partitioned) -%}
    {{ var('exports_dir') }}/city=*/{{ table }}/{{ 'period=*/' if partitioned else '' }}*.parquet
{%- endmacro %}

{% macro read_export(table, partitioned=true) -%}
    {{ return(adapter.dispatch('read_export')(table, partitioned)) }}
{%- endmacro %}

{% macro duckdb__read_export(table, partitioned) -%}
    read_parquet('{{ export_glob(table, partitioned) }}', hive_partitioning = false, union_by_name = true)
{%- endmacro %}

{% macro spark__read_export(table, partitioned) -%}
    parquet.`{{ export_glob(table, partitioned) }}`
{%- endmacro %}

{#- The verified manifests, one row per city, written by `civicloop national build`. -#}
{% macro read_cities() -%}
    {{ return(adapter.dispatch('read_cities')()) }}
{%- endmacro %}

{% macro duckdb__read_cities() -%}
    read_parquet('{{ var("cities_path") }}')
{%- endmacro %}

{% macro spark__read_cities() -%}
    parquet.`{{ var("cities_path") }}`
{%- endmacro %}

{#- The select list `cast(<name or null> as <type>) as <name>, ...` of (name, type) pairs: typed
    columns from a source, or typed nulls for an empty relation of the same shape. -#}
{% macro typed_columns(columns, from_source=true) -%}
    {%- for name, type in columns -%}
        cast({{ name if from_source else 'null' }} as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
