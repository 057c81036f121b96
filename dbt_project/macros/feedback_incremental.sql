{#-
    Month-partitioned incremental models over feedback (docs/contracts.md, "Incremental builds").

    A new day's file touches one or two months, so the request-level models rebuild only the
    months whose requests were loaded, updated or (re)scored since that model's last build. Each
    incremental model records, after it ran, the newest raw.feedback_requests.loaded_at and
    raw.feedback_text_scores.scored_at it has seen, plus a fingerprint of everything else that
    shapes its rows (method version, repeat window, the last reference load; for the period
    aggregates also which source formats record first responses). A changed
    fingerprint, a missing watermark or `dbt build --full-refresh` rebuilds every month; a new
    partition layout (var feedback_partition_layout) makes the build pass --full-refresh.
    Rebuilding a month means: pre-hook deletes its rows, the model selects them again, append.
-#}

{% macro feedback_watermarks_relation() -%}
    intermediate.feedback_build_watermarks
{%- endmacro %}

{#- Months each build rebuilt, per model (every month when rebuild_all): publishing patches only
    these months of the big request-level marts into the previous snapshot (pipelines/warehouse.py). -#}
{% macro feedback_rebuilt_months_relation() -%}
    intermediate.feedback_rebuilt_months
{%- endmacro %}

{#- Per model, up to where the last passing unique_where_changed test checked it: the newest
    record of rebuilt months, or the newest changed_at_column value (tests/generic_tests.sql). -#}
{% macro unique_verified_relation() -%}
    intermediate.feedback_unique_verified
{%- endmacro %}

{% macro create_feedback_watermarks() -%}
    create schema if not exists intermediate;
    create table if not exists {{ unique_verified_relation() }} (
        model_name varchar,
        verified_until timestamp,
        recorded_at timestamp
    );
    create table if not exists {{ feedback_rebuilt_months_relation() }} (
        model_name varchar,
        month_start date,
        rebuild_all boolean,
        recorded_at timestamp
    );
    create table if not exists {{ feedback_watermarks_relation() }} (
        model_name varchar,
        loaded_until timestamp,
        scored_until timestamp,
        fingerprint varchar,
        partition_layout varchar,
        recorded_at timestamp
    );
    alter table {{ feedback_watermarks_relation() }} add column if not exists partition_layout varchar
{%- endmacro %}

{% macro feedback_rebuild_fingerprint() -%}
    (
        select
            md5(concat_ws(
                '|',
                '{{ var("method_version") }}',
                '{{ var("repeat_window_days") }}',
                '{{ var("feedback_partition_layout") }}',
                {%- if (config.get('meta') or {}).get('rebuild_all_when_response_recording_changes') %}
                    {{ response_recording_formats() }},
                {%- endif %}
                coalesce(cast(max(loaded_at) as varchar), 'no reference load')
            ))
        from {{ source('ops', 'load_log') }}
        where source = 'reference' and status = 'loaded'
    )
{%- endmacro %}

{#- True when every month must be rebuilt: no watermark yet, or the fingerprint changed. -#}
{% macro feedback_rebuild_all() -%}
    coalesce(
        (select fingerprint from {{ feedback_watermarks_relation() }} where model_name = '{{ this.name }}'),
        ''
    ) <> {{ feedback_rebuild_fingerprint() }}
{%- endmacro %}

{#- Source formats that record first responses at all: a format that starts to record them changes
    the response-share denominator of every period (int_feedback__period_aggregates). -#}
{% macro response_recording_formats() -%}
    (
        select coalesce(string_agg(source_format, ',' order by source_format), '')
        from {{ ref('int_feedback__response_recording') }}
        where is_response_recorded
    )
{%- endmacro %}

{#- This model's rebuild state, looked up once per use: whether every month must be rebuilt, and
    the watermarks as timestamp literals. Written into the queries below as constants: a filter
    that ORs in a subquery cannot be pushed into the scan, and read all 10M requests per lookup. -#}
{% macro _feedback_rebuild_state() -%}
    {%- set query -%}
        select
            {{ feedback_rebuild_all() }} as rebuild_all,
            cast(max(loaded_until) as varchar) as loaded_until,
            cast(max(scored_until) as varchar) as scored_until
        from {{ feedback_watermarks_relation() }}
        where model_name = '{{ this.name }}'
    {%- endset -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return({'rebuild_all': true, 'loaded_until': none, 'scored_until': none}) }}
    {%- endif -%}
    {%- set row = run_query(query).rows[0] -%}
    {{ return({'rebuild_all': row[0], 'loaded_until': row[1], 'scored_until': row[2]}) }}
{%- endmacro %}

{% macro _timestamp_after(column, watermark) -%}
    {{ column }} > {% if watermark is none %}timestamp '-infinity'{% else %}timestamp '{{ watermark }}'{% endif %}
{%- endmacro %}

{#- Days whose rows this model must rebuild, as a query: every day from a changed day to
    repeat_window_days after it, since a report can make later reports in that window repeats
    (int_feedback__requests_enriched), and every model that reads the flag, or reads a model that
    does, must rebuild those days too. In daily running the window's later days are still empty.
    Request-level models rebuild these days; the others the months and quarters holding them. -#}
{% macro _feedback_days_query(state) -%}
    {#- The requests are named twice rather than in a shared CTE: DuckDB materializes a CTE used
        twice, whole, before the watermark filters could skip the history. -#}
    (
        with changed_days as (
            select cast(requests.opened_at as date) as changed_day
            from {{ ref('stg_feedback__requests') }} as requests
            {%- if not state.rebuild_all %}
                where {{ _timestamp_after('requests.loaded_at', state.loaded_until) }}
            {%- endif %}
            union
            select cast(requests.opened_at as date) as changed_day
            from {{ source('raw', 'feedback_text_scores') }} as text_scores
            inner join {{ ref('stg_feedback__requests') }} as requests
                on text_scores.request_id = requests.request_id
            {# A constant false on a full rebuild rather than leaving the branch out: at parse time
               (state.rebuild_all is true) the branch must still name its source. #}
            where
                not {{ state.rebuild_all }}
                and {{ _timestamp_after('text_scores.scored_at', state.scored_until) }}
            union
            {# The day a request left when a later version moved its opened date: its old row
               lives in that day until the day is rebuilt. #}
            select cast(moves.previous_opened_at as date) as changed_day
            from {{ source('raw', 'feedback_request_moves') }} as moves
            where
                not {{ state.rebuild_all }}
                and {{ _timestamp_after('moves.loaded_at', state.loaded_until) }}
        )

        {#- Every day of the window, so every month it touches: 30 days from 31 January end on
            2 March, and February lies between. #}
        select distinct cast(unnest(generate_series(
            changed_day,
            changed_day + interval {{ var('repeat_window_days') }} day,
            interval 1 day
        )) as date) as rebuilt_day
        from changed_days
    )
{%- endmacro %}

{#- Pre-hook: delete the rows of the months to rebuild (before the model selects them again). -#}
{% macro delete_feedback_months(month_column) -%}
    {{ _delete_feedback_rows(month_column ~ ' in ' ~ feedback_months_to_rebuild()) }}
{%- endmacro %}

{#- Pre-hook for period aggregates: month rows of rebuilt months, quarter rows of their quarters. -#}
{% macro delete_feedback_periods(grain_column='grain', period_column='period_start') -%}
    {{ _delete_feedback_rows(feedback_periods_to_rebuild(grain_column, period_column)) }}
{%- endmacro %}

{% macro _delete_feedback_rows(condition) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ _feedback_rebuild_state().rebuild_all }} or {{ condition }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro feedback_periods_to_rebuild(grain_column='grain', period_column='period_start') -%}
    (
        ({{ grain_column }} = 'month' and {{ period_column }} in {{ feedback_months_to_rebuild() }})
        or ({{ grain_column }} = 'quarter' and {{ period_column }} in {{ feedback_quarters_to_rebuild() }})
    )
{%- endmacro %}

{#- The months to rebuild are looked up once when the model runs and written into its SQL as
    constants: a filter on constants is pushed into DuckDB's scans (and a range on a timestamp
    skips whole row groups), where a filter on a subquery becomes a join that reads every row of
    the history — the part of an increment that grew with history. -#}
{% macro _feedback_dates_to_rebuild(unit='month', state=none) -%}
    {#- Rendered at parse time too: its ref() and source() calls are the model's dependencies. -#}
    {%- set state = state or _feedback_rebuild_state() -%}
    {%- set query -%}
        select distinct cast(cast(date_trunc('{{ unit }}', rebuilt_day) as date) as varchar) as period_start
        from {{ _feedback_days_query(state) }} as days (rebuilt_day)
        where rebuilt_day is not null
        order by period_start
    {%- endset -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}

{% macro _date_literals(dates) -%}
    {% for day in dates %}date '{{ day }}'{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}

{% macro _date_list(dates) -%}
    {%- if dates -%}
        ({{ _date_literals(dates) }})
    {%- else -%}
        (cast(null as date))
    {%- endif -%}
{%- endmacro %}

{#- Months (first day) whose rows this model must rebuild, as a constant list for `in`. -#}
{% macro feedback_months_to_rebuild() -%}
    {{ _date_list(_feedback_dates_to_rebuild('month')) }}
{%- endmacro %}

{#- Quarters (first day) holding a month to rebuild, as a constant list for `in`. -#}
{% macro feedback_quarters_to_rebuild() -%}
    {{ _date_list(_feedback_dates_to_rebuild('quarter')) }}
{%- endmacro %}

{#- A timestamp falls on a day to rebuild (the request-level models): a day late in a month rewrites
    that day, not the month so far. The range lets the scan skip row groups. -#}
{% macro feedback_timestamp_in_days_to_rebuild(timestamp_column) -%}
    {{ _timestamp_in_periods(timestamp_column, _feedback_dates_to_rebuild('day'), 'day') }}
{%- endmacro %}

{#- First day to rebuild (null when there is none). -#}
{% macro feedback_first_day_to_rebuild() -%}
    {%- set days = _feedback_dates_to_rebuild('day') -%}
    {%- if days -%}date '{{ days[0] }}'{%- else -%}cast(null as date){%- endif -%}
{%- endmacro %}

{#- Pre-hook for request-level models: delete the rows of the days to rebuild. -#}
{% macro delete_feedback_days(timestamp_column) -%}
    {{ _delete_feedback_rows(feedback_timestamp_in_days_to_rebuild(timestamp_column)) }}
{%- endmacro %}

{% macro _timestamp_in_periods(timestamp_column, periods, unit) -%}
    {%- if periods -%}
        (
            {{ timestamp_column }} >= date '{{ periods[0] }}'
            and {{ timestamp_column }} < date '{{ periods[-1] }}' + interval 1 {{ unit }}
            and cast(date_trunc('{{ unit }}', {{ timestamp_column }}) as date) in {{ _date_list(periods) }}
        )
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: the months this build rebuilt (looked up before the watermark moves on). -#}
{% macro record_rebuilt_months() -%}
    {%- set state = _feedback_rebuild_state() -%}
    {%- set months = [] if state.rebuild_all else _feedback_dates_to_rebuild('month', state) -%}
    {%- if state.rebuild_all or months %}
        insert into {{ feedback_rebuilt_months_relation() }} (model_name, month_start, rebuild_all, recorded_at)
        {% if state.rebuild_all -%}
            values ('{{ this.name }}', null, true, current_timestamp)
        {%- else -%}
            select '{{ this.name }}', unnest([{{ _date_literals(months) }}]), false, current_timestamp
        {%- endif %};
    {%- endif %}
{%- endmacro %}

{#- Post-hook: remember what this build has seen. -#}
{% macro record_feedback_watermark() -%}
    {{ record_rebuilt_months() }}
    delete from {{ feedback_watermarks_relation() }} where model_name = '{{ this.name }}';
    insert into {{ feedback_watermarks_relation() }}
        (model_name, loaded_until, scored_until, fingerprint, partition_layout, recorded_at)
    select
        '{{ this.name }}',
        (select max(loaded_at) from {{ source('raw', 'feedback_requests') }}),
        (select max(scored_at) from {{ source('raw', 'feedback_text_scores') }}),
        {{ feedback_rebuild_fingerprint() }},
        '{{ var("feedback_partition_layout") }}',
        current_timestamp
{%- endmacro %}

{#- The config every month-partitioned feedback model shares. -#}
{#- A change of columns fails instead of altering a table in place: bump the var
    feedback_partition_layout with it, and the next `civicloop build` runs `dbt build --full-refresh`
    by itself (pipelines/build.py). -#}
{% macro feedback_incremental_config(pre_hook, rebuild_all_when_response_recording_changes=false) -%}
    {{ config(
        meta={
            'rebuild_all_when_response_recording_changes': rebuild_all_when_response_recording_changes,
        },
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=pre_hook,
        post_hook="{{ record_feedback_watermark() }}",
    ) }}
{%- endmacro %}


{#- The rows of ``model`` that may have changed since its unique_where_changed test last passed,
    as a condition on constants (pushed into the scan); none when every row must be checked.
    Changed rows are those of the months recorded since (month_column: the model's month;
    timestamp_column: a timestamp whose month it is) or, for a view over a raw table, those whose
    changed_at_column is newer than what the test saw. -#}
{% macro changed_rows_condition(model, month_column=none, timestamp_column=none, changed_at_column=none) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set verified_query -%}
        select cast(max(verified_until) as varchar)
        from {{ unique_verified_relation() }}
        where model_name = '{{ model.identifier }}'
    {%- endset -%}
    {%- set verified_until = run_query(verified_query).rows[0][0] -%}
    {%- if verified_until is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if changed_at_column is not none -%}
        {{ return(changed_at_column ~ " > timestamp '" ~ verified_until ~ "'") }}
    {%- endif -%}
    {%- set records_query -%}
        select
            coalesce(bool_or(rebuild_all), false),
            coalesce(string_agg(distinct cast(month_start as varchar), ',' order by cast(month_start as varchar)), '')
        from {{ feedback_rebuilt_months_relation() }}
        where model_name = '{{ model.identifier }}' and recorded_at > timestamp '{{ verified_until }}'
    {%- endset -%}
    {%- set records = run_query(records_query).rows[0] -%}
    {%- if records[0] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set months = records[1].split(',') if records[1] else [] -%}
    {%- if timestamp_column is not none -%}
        {{ return(_timestamp_in_periods(timestamp_column, months, 'month')) }}
    {%- endif -%}
    {{ return(month_column ~ ' in ' ~ _date_list(months)) }}
{%- endmacro %}

{#- The relation a test is attached to, as it exists in the warehouse (none if not built). -#}
{% macro tested_model_relation(test_node) -%}
    {%- set model_node = graph.nodes[test_node.attached_node] -%}
    {{ return(adapter.get_relation(
        database=model_node.database, schema=model_node.schema,
        identifier=model_node.alias or model_node.name)) }}
{%- endmacro %}

{#- on-run-end: remember how far each passing unique_where_changed test checked its model. -#}
{% macro record_unique_verified(results) -%}
    {%- if execute -%}
        {%- for result in results
            if result.node.resource_type == 'test'
            and result.status == 'pass'
            and result.node.test_metadata is not none
            and result.node.test_metadata.name == 'unique_where_changed' -%}
            {%- set model_relation = tested_model_relation(result.node) -%}
            {%- set changed_at_column = result.node.test_metadata.kwargs.get('changed_at_column') -%}
            {%- if model_relation is not none %}
                delete from {{ unique_verified_relation() }} where model_name = '{{ model_relation.identifier }}';
                insert into {{ unique_verified_relation() }} (model_name, verified_until, recorded_at)
                select
                    '{{ model_relation.identifier }}',
                    {%- if changed_at_column %}
                        (select max({{ changed_at_column }}) from {{ model_relation }}),
                    {%- else %}
                        (
                            select max(recorded_at) from {{ feedback_rebuilt_months_relation() }}
                            where model_name = '{{ model_relation.identifier }}'
                        ),
                    {%- endif %}
                    current_timestamp;
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
