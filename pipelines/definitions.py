"""The one Dagster ``Definitions`` of civicloop, assembled from the domain modules in ``defs/``.

Open the UI on it with ``make dagster`` (``dagster dev -m pipelines.definitions``).
"""

from __future__ import annotations

import dagster as dg

from pipelines.settings import get_settings

settings = get_settings()
settings.export_tool_environment()

# Imported after the environment is exported: the dbt project reads it when it is loaded.
from pipelines.defs.analytics import analytics_assets  # noqa: E402
from pipelines.defs.automation import jobs, schedules, sensors  # noqa: E402
from pipelines.defs.checks import asset_checks, audit_assets  # noqa: E402
from pipelines.defs.ingest import ingest_assets  # noqa: E402
from pipelines.defs.publish import published_snapshot  # noqa: E402
from pipelines.defs.transform import civicloop_dbt_models, dbt_resource  # noqa: E402
from pipelines.resources import build_resources  # noqa: E402

defs = dg.Definitions(
    assets=[
        *ingest_assets,
        *audit_assets,
        *analytics_assets,
        civicloop_dbt_models,
        published_snapshot,
    ],
    asset_checks=asset_checks,
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    resources={**build_resources(settings), "dbt": dbt_resource(warm_start=settings.warm_dbt)},
    # Steps share one DuckDB file that only one process may write: run them in one process,
    # which on 2 cores is also 2x faster than the multiprocess executor (STACK_NOTES).
    executor=dg.in_process_executor,
)
