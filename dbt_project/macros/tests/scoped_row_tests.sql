{#-
    Row-level data tests (not_null, accepted_values, relationships, not_before, ...) scoped to the
    rows loaded since the test last passed, with the test config

        where: "loaded_at > __last_passed__"

    A row-level test's verdict on a row depends on that row alone, and a request that changes gets
    a new loaded_at, so rows the test passed before still pass. On the 10M history the five such
    tests on the request staging views read every row of every daily build (0.3-1.2 s each); scoped,
    they read the day. Every row is checked again when:
    - the test has not passed yet (no record), or warned or failed since its last pass (a test
      that does not pass keeps its record, so its rows stay in scope until it passes);
    - the test's arguments, or the SQL of a model it reads, changed (the checksums below);
    - a new reference load arrived (a relationships test reads the districts);
    - the scoring method or the partition layout changed (feedback_rebuild_fingerprint).
    dbt documents overriding get_where_subquery for run-time `where` values.
-#}

{% macro tests_verified_relation() -%}
    intermediate.scoped_tests_verified
{%- endmacro %}

{% macro _last_passed_placeholder() -%}__last_passed__{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and _last_passed_placeholder() in where -%}
        {%- set last_passed = _test_last_passed(model) -%}
        {%- if last_passed is none -%}
            {{ return(relation) }}
        {%- endif -%}
        {%- set where = where | replace(_last_passed_placeholder(), "timestamp '" ~ last_passed ~ "'") -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- The column a scoped test's `where` compares with __last_passed__ ("<column> > __last_passed__"). -#}
{% macro _scoped_test_column(test_node) -%}
    {%- set parts = test_node.config.where.split('>') -%}
    {%- if parts | length != 2 or (parts[1] | trim) != _last_passed_placeholder() -%}
        {{ exceptions.raise_compiler_error(
            test_node.unique_id ~ ": a scoped test's where must read '<column> > "
            ~ _last_passed_placeholder() ~ "', not '" ~ test_node.config.where ~ "'") }}
    {%- endif -%}
    {{ return(parts[0] | trim) }}
{%- endmacro %}

{#- What a scoped test's verdicts depend on besides the rows: a SQL expression. -#}
{% macro _scoped_test_fingerprint(test_node) -%}
    {%- set checksums = [test_node.test_metadata.kwargs | tojson] -%}
    {%- for node_id in test_node.depends_on.nodes if node_id in graph.nodes -%}
        {%- do checksums.append(node_id ~ '=' ~ graph.nodes[node_id].checksum.checksum) -%}
    {%- endfor -%}
    md5(concat_ws('|', '{{ checksums | join("|") | replace("'", "''") }}', {{ feedback_rebuild_fingerprint() }}))
{%- endmacro %}

{#- When the test last passed with the same fingerprint, as a timestamp string; none if never. -#}
{% macro _test_last_passed(test_node) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select cast(max(verified_until) as varchar)
        from {{ tests_verified_relation() }}
        where test_id = '{{ test_node.unique_id }}' and fingerprint = {{ _scoped_test_fingerprint(test_node) }}
    {%- endset -%}
    {{ return(run_query(query).rows[0][0]) }}
{%- endmacro %}

{% macro create_tests_verified() -%}
    create schema if not exists intermediate;
    create table if not exists {{ tests_verified_relation() }} (
        test_id varchar,
        fingerprint varchar,
        verified_until timestamp,
        recorded_at timestamp
    )
{%- endmacro %}

{#- on-run-end: for each scoped test that passed, how far it has checked its model. -#}
{% macro record_tests_verified(results) -%}
    {%- if execute -%}
        {%- for result in results
            if result.node.resource_type == 'test'
            and result.status == 'pass'
            and _last_passed_placeholder() in (result.node.config.where or '') -%}
            {%- set model_relation = tested_model_relation(result.node) -%}
            {%- if model_relation is not none %}
                delete from {{ tests_verified_relation() }} where test_id = '{{ result.node.unique_id }}';
                insert into {{ tests_verified_relation() }} (test_id, fingerprint, verified_until, recorded_at)
                select
                    '{{ result.node.unique_id }}',
                    {{ _scoped_test_fingerprint(result.node) }},
                    (select max({{ _scoped_test_column(result.node) }}) from {{ model_relation }}),
                    current_timestamp;
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
