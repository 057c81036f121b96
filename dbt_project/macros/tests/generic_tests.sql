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
