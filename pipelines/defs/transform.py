"""The dbt project as Dagster assets: staging -> intermediate -> marts, tests as asset checks."""

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource
from dbt.version import __version__ as installed_dbt_version
from packaging import version
from pydantic import Field, PrivateAttr

from pipelines.settings import PROJECT_ROOT, Settings, dbt_project_vars
from pipelines.warm_dbt import SOCKET_ENV, WarmDbtServer, client_executable, plain_dbt_executable

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# The newest per-run dbt target folders kept for debugging a run (prune_dbt_run_folders).
DBT_RUN_FOLDERS_KEPT = 20

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Only acts under `dagster dev`; the CLI and the tests run `dbt parse` themselves (pipelines.dbt).
dbt_project.prepare_if_dev()


class CivicloopDbtTranslator(DagsterDbtTranslator):
    """One rule for every dbt node: key = [schema, table], group = the layer folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        table = dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return dg.AssetKey([dbt_resource_props["schema"], table])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1]
        return f"{dbt_resource_props['resource_type']}s"


class DbtBuildConfig(dg.Config):
    """Run configuration of the dbt step (Dagster launchpad, ``civicloop build --full-refresh``)."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the month-partitioned feedback models whole instead of only the "
        "months that changed (needed after a change of a contracted incremental mart's columns).",
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=CivicloopDbtTranslator(),
)
def civicloop_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: DuckDBResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """All dbt models, seeds and snapshots; one `dbt build` per run (start-up dominates small builds).

    The feedback models are incremental (dbt_project/macros/feedback_incremental.sql): a day's
    file rebuilds the days it touches in the request-level models and the months holding them in
    the aggregates, not the history.
    """
    prune_dbt_run_folders(DBT_PROJECT_DIR / "target")
    full_refresh = config.full_refresh
    with warehouse.get_connection() as con:
        if not full_refresh and feedback_partition_layout_changed(con):
            context.log.info("The feedback partition layout changed: rebuilding with --full-refresh.")
            full_refresh = True
    # Unit tests check the SQL's logic, which a data build cannot change: they run with the test
    # suite (tests/test_dbt_models.py), as dbt advises, not in every production build.
    arguments = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        arguments.append("--full-refresh")
    if isinstance(dbt, LocalDbtCliResource):
        dbt.wait_for_warm_server()
    yield from dbt.cli(arguments, context=context).stream()


def prune_dbt_run_folders(target_dir: Path, keep: int = DBT_RUN_FOLDERS_KEPT) -> list[Path]:
    """Delete all but the newest ``keep`` per-run dbt target folders; returns the deleted ones.

    dagster-dbt gives every dbt invocation a folder of its own under target/ (manifest, compiled
    SQL, run results, dbt.log: ~3 MB and ~200 files each), so a daily schedule would add one per
    run forever.
    """
    runs = sorted(
        (folder for folder in target_dir.glob(f"{civicloop_dbt_models.op.name}-*") if folder.is_dir()),
        key=lambda folder: folder.stat().st_mtime,
        reverse=True,
    )
    for folder in runs[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return runs[keep:]


def incremental_models() -> list[tuple[str, str]]:
    """(schema, table) of every incremental dbt model, from the manifest."""
    manifest = json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))
    return [
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    ]


def feedback_partition_layout_changed(con: duckdb.DuckDBPyConnection) -> bool:
    """True when incremental tables exist from another partition layout (or from before watermarks).

    Appending to them would mix layouts, so dbt must rebuild them whole.
    """
    layout = str(dbt_project_vars(DBT_PROJECT_DIR)["feedback_partition_layout"])
    existing = {
        (str(schema), str(table))
        for schema, table in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    built = [table for schema, table in incremental_models() if (schema, table) in existing]
    if not built:
        return False
    watermark_columns = {
        str(row[0])
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'intermediate' AND table_name = 'feedback_build_watermarks'"
        ).fetchall()
    }
    if "partition_layout" not in watermark_columns:
        return True
    current = {
        str(row[0])
        for row in con.execute(
            "SELECT model_name FROM intermediate.feedback_build_watermarks WHERE partition_layout = ?",
            [layout],
        ).fetchall()
    }
    return not set(built) <= current


class LocalDbtCliResource(DbtCliResource):
    """The dbt installed beside this interpreter, started without the work dbt does not need.

    DbtCliResource runs ``dbt --version`` once per run to learn it, which starts a second Python
    with dbt (2-9 s on two cores) and looks up the newest release on pypi.org on every build.

    With ``warm_start``, a run starts a warm dbt server when the resource is set up (while the
    first steps run) and every dbt command of the run is a fork of it (pipelines/warm_dbt.py).
    """

    warm_start: bool = Field(
        default=False,
        description="Fork dbt commands from a dbt imported once per run (needs civicloop-dbt as "
        "dbt_executable; Linux).",
    )
    _warm_server: WarmDbtServer | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if not (self.warm_start and WarmDbtServer.supported()):
            return
        from pipelines.build import stale_partial_parse_key

        self._warm_server = WarmDbtServer(
            Path(self.project_dir),
            Path(self.profiles_dir or self.project_dir),
            partial_parse_key=stale_partial_parse_key(Settings()),
        )
        os.environ[SOCKET_ENV] = self._warm_server.address

    def wait_for_warm_server(self) -> None:
        """Let the run's warm dbt server finish warming up before a dbt command is started."""
        if self._warm_server is not None:
            self._warm_server.wait_until_ready()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warm_server is None:
            return
        if os.environ.get(SOCKET_ENV) == self._warm_server.address:
            del os.environ[SOCKET_ENV]
        served = self._warm_server.stop()
        self._warm_server = None
        if context.log is not None:
            context.log.info(f"Warm dbt server: {served} dbt command(s) forked from it in this run.")

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_dbt_version)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        """No dbt adapter in this process: the dbt subprocess has its own.

        DbtCliResource builds one before every ``dbt build`` (loading the profile, the project and
        every macro: 2.4 s of each build and increment) only to serve ``fetch_column_metadata``
        and ``fetch_row_counts``, which this project does not use.
        """
        return None


def dbt_resource(warm_start: bool = True) -> DbtCliResource:
    """The dbt resource: dbt from beside this interpreter, so that a build never depends on PATH.

    Warm when asked and ``civicloop-dbt`` is installed (``make venv`` installs it).
    """
    client = client_executable()
    warm = warm_start and client.is_file() and WarmDbtServer.supported()
    return LocalDbtCliResource(
        # DbtCliResource.__init__ takes a DbtProject; mypy sees only the pydantic field (str).
        project_dir=dbt_project,  # type: ignore[arg-type]
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(client if warm else plain_dbt_executable()),
        warm_start=warm,
    )
