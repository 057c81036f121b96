"""The one settings object: every path and secret civicloop uses comes from here.

Nothing else in the codebase reads the environment. Variables use the ``CIVICLOOP_`` prefix and a
git-ignored ``.env`` file is honoured; see ``.env.example`` for the documented list.
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def dbt_project_vars(project_dir: Path = PROJECT_ROOT / "dbt_project") -> dict[str, Any]:
    """The ``vars`` of the dbt project: the one place method and layout versions are declared."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


# Marked so that nobody mistakes it for a real key: pseudonyms made with it are for demos only.
DEVELOPMENT_PSEUDONYM_KEY = "civicloop-DEVELOPMENT-ONLY-pseudonym-key-do-not-use-in-production"

SOURCES = ("reference", "feedback", "kpis", "survey", "reviews")


def slugify(name: str) -> str:
    """A city's id for paths: lower case ASCII letters and digits, runs of anything else as '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not slug:
        raise ValueError(f"cannot make a city slug from {name!r}: set CIVICLOOP_CITY_SLUG")
    return slug


class MissingSecretError(RuntimeError):
    """A secret required in production mode is not configured."""


class Settings(BaseSettings):
    """civicloop configuration, read from ``CIVICLOOP_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CIVICLOOP_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Root of all data folders.")
    mode: Literal["demo", "production"] = Field(
        default="demo", description="production refuses to start without real secrets."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None, description="HMAC key that turns resident and reporter ids into pseudonyms."
    )
    duckdb_memory_limit: str = Field(default="4GB", description="DuckDB memory_limit per connection.")
    duckdb_threads: int = Field(default=2, ge=1, description="DuckDB worker threads.")
    text_workers: int | None = Field(
        default=None,
        ge=1,
        description="Processes scoring sentiment in a full build; default: the usable CPUs, at most 8.",
    )
    city_name: str = Field(default="Sample City", description="Shown in the dashboard and exports.")
    city_slug: str | None = Field(
        default=None,
        description="The city's id in federation exports; default: city_name in lower case, dashed.",
    )
    export_request_facts: bool = Field(
        default=False,
        description="Let `civicloop export` include request-level facts (marts.request_facts).",
    )
    spark_driver_memory: str = Field(
        default="4g", description="Driver memory of the local Spark session of the national build."
    )
    allow_reference_shrink: bool = Field(
        default=False,
        description="Accept a reference snapshot that drops districts or services still in use.",
    )
    editors_file: Path | None = Field(
        default=None, description="Hashed editor credentials; default <data>/secrets/editors.toml."
    )
    warm_dbt: bool = Field(
        default=True,
        description="Start dbt commands from a dbt imported once per run (pipelines/warm_dbt.py); "
        "false runs each as a fresh process.",
    )

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    def inbox_dir(self, source: str) -> Path:
        return self.resolved_data_dir / "inbox" / source

    def raw_archive_dir(self, source: str) -> Path:
        return self.resolved_data_dir / "raw" / source

    def rejected_dir(self, source: str) -> Path:
        return self.resolved_data_dir / "rejected" / source

    @property
    def warehouse_path(self) -> Path:
        return self.resolved_data_dir / "warehouse" / "civicloop.duckdb"

    @property
    def published_path(self) -> Path:
        return self.resolved_data_dir / "published" / "civicloop.duckdb"

    @property
    def build_status_path(self) -> Path:
        return self.resolved_data_dir / "published" / "build_status.json"

    @property
    def resolved_city_slug(self) -> str:
        """``city_slug``, or the city name in lower case with runs of other characters as '-'."""
        return slugify(self.city_slug or self.city_name)

    @property
    def national_dir(self) -> Path:
        """Working folder of the national build (its DuckDB file, Spark warehouse, dbt logs)."""
        return self.resolved_data_dir / "national"

    @property
    def national_published_path(self) -> Path:
        # Not national.duckdb: a catalog named like its schema (national) makes names ambiguous.
        return self.resolved_data_dir / "published" / "civicloop_national.duckdb"

    @property
    def dbt_national_project_dir(self) -> Path:
        return PROJECT_ROOT / "dbt_national"

    @property
    def decisions_path(self) -> Path:
        return self.resolved_data_dir / "decisions" / "decisions.sqlite"

    @property
    def truth_path(self) -> Path:
        return self.resolved_data_dir / "truth.json"

    @property
    def dagster_home(self) -> Path:
        return self.resolved_data_dir / "dagster_home"

    @property
    def dbt_project_dir(self) -> Path:
        return PROJECT_ROOT / "dbt_project"

    @property
    def resolved_editors_file(self) -> Path:
        return self.editors_file or self.resolved_data_dir / "secrets" / "editors.toml"

    def pseudonym_key_bytes(self) -> bytes:
        """The HMAC key; the marked development key in demo mode, an error in production."""
        if self.pseudonym_key is not None and self.pseudonym_key.get_secret_value():
            return self.pseudonym_key.get_secret_value().encode()
        if self.mode == "production":
            raise MissingSecretError(
                "CIVICLOOP_PSEUDONYM_KEY is not set. In production mode civicloop refuses to "
                "pseudonymise residents with the development key; set it in the environment or "
                "in the git-ignored .env file (see .env.example)."
            )
        return DEVELOPMENT_PSEUDONYM_KEY.encode()

    def tool_environment(self) -> dict[str, str]:
        """Variables the tools we drive (dbt, Dagster, Streamlit, GX) read, derived from settings."""
        return {
            "CIVICLOOP_DATA_DIR": str(self.resolved_data_dir),
            "CIVICLOOP_WAREHOUSE_PATH": str(self.warehouse_path),
            "CIVICLOOP_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            # Publish reads it: request-level facts reach the snapshot only where export is allowed.
            "CIVICLOOP_EXPORT_REQUEST_FACTS": str(self.export_request_facts).lower(),
            "DAGSTER_HOME": str(self.dagster_home),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }

    def export_tool_environment(self) -> None:
        """Hand the derived variables to the tools running in this process and its children."""
        os.environ.update(self.tool_environment())
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        write_dagster_yaml(self.dagster_home)

    def ensure_dirs(self) -> None:
        for source in SOURCES:
            self.inbox_dir(source).mkdir(parents=True, exist_ok=True)
        for path in (self.warehouse_path, self.published_path, self.decisions_path):
            path.parent.mkdir(parents=True, exist_ok=True)


DAGSTER_YAML_MARKER = "# Written by civicloop (pipelines/settings.py)"
# What civicloop wrote before the event log storage was configured: replaced like its own file.
_EARLIER_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def dagster_yaml_text(dagster_home: Path) -> str:
    """The Dagster instance configuration civicloop writes: telemetry off, pooled event log."""
    return (
        f"{DAGSTER_YAML_MARKER}; rewritten while this line is first. Delete it to keep your own.\n"
        "telemetry:\n"
        "  enabled: false\n"
        "# Dagster's SQLite event log, keeping its connections open (pipelines/dagster_storage.py).\n"
        "event_log_storage:\n"
        "  module: pipelines.dagster_storage\n"
        "  class: PooledSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {json.dumps(str(dagster_home / 'storage'))}\n"
    )


def write_dagster_yaml(dagster_home: Path) -> None:
    """Write dagster.yaml unless the user replaced civicloop's own (see its first line)."""
    path = dagster_home / "dagster.yaml"
    wanted = dagster_yaml_text(dagster_home)
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == wanted:
        return
    if current is None or current == _EARLIER_DAGSTER_YAML or current.startswith(DAGSTER_YAML_MARKER):
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(wanted, encoding="utf-8")
        staging.replace(path)


def get_settings() -> Settings:
    return Settings()
