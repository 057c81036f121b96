"""Dagster resources, configured from the one settings object."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, get_settings


class CivicloopSettingsResource(dg.ConfigurableResource):
    """Gives assets the civicloop settings (paths, secrets) as a Dagster resource."""

    data_dir: str

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resources every asset uses; paths and limits come from ``Settings``."""
    settings = settings or get_settings()
    return {
        "civicloop": CivicloopSettingsResource(data_dir=str(settings.resolved_data_dir)),
        "warehouse": DuckDBResource(
            database=str(settings.warehouse_path),
            connection_config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
            },
        ),
    }
