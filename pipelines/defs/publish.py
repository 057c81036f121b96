"""The published snapshot: the only file dashboards and analysts open."""

import dagster as dg

from pipelines.defs.transform import civicloop_dbt_models
from pipelines.resources import CivicloopSettingsResource
from pipelines.warehouse import publish_snapshot


@dg.asset(
    key=["published", "civicloop"],
    deps=[civicloop_dbt_models],
    group_name="published",
    kinds={"duckdb"},
)
def published_snapshot(
    context: dg.AssetExecutionContext, civicloop: CivicloopSettingsResource
) -> dg.MaterializeResult:
    """published/civicloop.duckdb: the marts and ops schemas, swapped in atomically per build.

    Grain: one file per successful build. Runs only when every upstream asset and blocking check
    succeeded, so a failed build leaves the previous snapshot in place.
    """
    result = publish_snapshot(civicloop.settings(), build_id=context.run_id[:12])
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "build_id": dg.MetadataValue.text(result.build_id),
            "tables": dg.MetadataValue.json(result.table_rows),
        }
    )
