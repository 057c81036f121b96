{#
    The status of a score under the scoring method (docs/contracts.md): green at or above
    var('green_threshold'), amber at or above var('amber_threshold'), red below, and suppressed
    when `suppressed_when` holds (by default: no score). One rule for indicators, considerations,
    the composite and the weight-sensitivity view.
#}
{% macro score_status(score, suppressed_when=none) -%}
    cast(
        case
            when {{ suppressed_when if suppressed_when else score ~ ' is null' }} then 'suppressed'
            when {{ score }} >= {{ var('green_threshold') }} then 'green'
            when {{ score }} >= {{ var('amber_threshold') }} then 'amber'
            else 'red'
        end as varchar
    )
{%- endmacro %}
