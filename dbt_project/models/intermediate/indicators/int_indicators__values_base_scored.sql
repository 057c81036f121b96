{{ score_indicator_values(ref('int_indicators__values_base')) }}
