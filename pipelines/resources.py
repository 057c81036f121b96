"""Dagster resources, configured from the one settings object."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, get_settings


class CivicloopSettingsResource(dg.ConfigurableResource):
    """Gives assets the civicloop settings (paths, secrets) as a Dagster resource."""

    data_dir: str

    def settings(self) -> Settings:
        return Settings(data_dir=Path(self.data_dir))


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resources every asset uses.

    Paths resolve from the environment at run time (``Settings.export_tool_environment`` sets
    them from the one settings object), so one loaded ``Definitions`` can build any data folder.
    """
    settings = settings or get_settings()
    return {
        "civicloop": CivicloopSettingsResource(data_dir=dg.EnvVar("CIVICLOOP_DATA_DIR")),
        "warehouse": DuckDBResource(
            database=dg.EnvVar("CIVICLOOP_WAREHOUSE_PATH"),
            connection_config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
            },
        ),
    }
