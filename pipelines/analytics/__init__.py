"""Statistics the warehouse cannot do in SQL: survey raking, inequality, text sentiment and topics.

Modules:

- :mod:`pipelines.analytics.weighting` rakes survey respondents to census margins (weightipy) and
  gives Kish effective sample sizes, design effects and weighted shares with confidence intervals.
- :mod:`pipelines.analytics.equity` computes Theil's T and its between/within-group split (PySAL
  ``inequality``); the dbt models cross-check against it.
- :mod:`pipelines.analytics.text` scores feedback descriptions with VADER and assigns TF-IDF + NMF
  topics (scikit-learn).

The heavy field libraries are imported inside the functions that need them: each costs several
seconds to import on the target machine, and Dagster imports this package whenever it loads the
code location.
"""
