{#- Generic tests the project needs (dbt packages cannot be fetched here). -#}

{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), true)
{% endtest %}

{% test not_before(model, column_name, other_column) %}
{#- column_name must not be earlier than other_column (nulls pass). -#}
select *
from {{ model }}
where {{ column_name }} < {{ other_column }}
{% endtest %}

{% test between(model, column_name, min_value, max_value) %}
select *
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{% test is_share(model, column_name) %}
{#- A share or proportion: within [0, 1] (nulls pass). -#}
select *
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}

{% test greater_than(model, column_name, value) %}
select *
from {{ model }}
where {{ column_name }} <= {{ value }}
{% endtest %}

{% test unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- dbt's unique, checked only where rows can have changed since this test last passed on the
    model: the ids there against every row (a duplicate needs at least one changed row). Grouping
    every id of a 10M-row model took 2-3 s per test on every daily build; the scoped check takes
    hundredths. Which rows changed: macro changed_rows_condition (feedback_incremental.sql). Every
    row is checked when the test has not passed since the model was rebuilt whole. -#}
{% test unique_where_changed(model, column_name, month_column=none, timestamp_column=none, changed_at_column=none) %}
{%- set changed = changed_rows_condition(model, month_column, timestamp_column, changed_at_column) -%}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where
    {{ column_name }} is not null
    {%- if changed is not none %}
    and {{ column_name }} in (select {{ column_name }} from {{ model }} where {{ changed }})
    {%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
