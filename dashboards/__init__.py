"""civicloop dashboards: the Streamlit app over the published snapshot and the decision register.

Layer rule: nothing here imports ``pipelines``; the published DuckDB file and the decision
register sqlite file are the only contracts (docs/contracts.md).
"""
