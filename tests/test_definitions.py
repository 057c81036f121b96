"""The one Dagster Definitions loads, and every asset follows the house rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.build import (
    _project_source_files,
    dbt_manifest_fingerprint,
    partial_parse_is_current,
    partial_parse_key,
    prepare_dbt_manifest,
)
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.warm_dbt import record_partial_parse


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    data_dir = tmp_path_factory.mktemp("defs")
    previous = os.environ.get("CIVICLOOP_DATA_DIR")
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    try:
        prepare_dbt_manifest(Settings(data_dir=data_dir))
        from pipelines.definitions import defs as loaded
    finally:
        if previous is None:
            os.environ.pop("CIVICLOOP_DATA_DIR", None)
        else:
            os.environ["CIVICLOOP_DATA_DIR"] = previous
    return loaded


def test_definitions_load(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.materializable_asset_keys}
    for expected in (
        "raw/feedback_requests",
        "raw/survey_weights",
        "raw/review_decisions",
        "ops/load_log",
        "marts/indicator_values",
        "marts/consideration_scores",
        "published/civicloop",
    ):
        assert expected in keys


def test_every_asset_has_a_group_kinds_and_a_description(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.group_name and node.group_name != "default", key
        assert node.kinds, key
        assert node.description, key


def test_asset_names_are_table_names(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        assert len(key.path) == 2, key
        schema, _table = key.path
        assert schema in {
            "raw",
            "ops",
            "staging",
            "intermediate",
            "marts",
            "seeds",
            "snapshots",
            "published",
        }, key


def test_published_waits_for_marts_and_blocking_checks(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["published", "civicloop"])).parent_keys
    assert dg.AssetKey(["marts", "indicator_values"]) in upstream
    blocking = {
        spec.name for checks in defs.asset_checks or [] for spec in checks.check_specs if spec.blocking
    }
    assert {"row_conservation", "gx_raw_feedback_requests", "gx_marts_indicator_values"} <= blocking


def test_schedules_and_inbox_sensor(defs: dg.Definitions, tmp_path: Path) -> None:
    assert {s.name for s in defs.schedules} >= {"daily_feedback", "monthly_kpis", "quarterly_survey"}
    sensor = defs.get_sensor_def("inbox_sensor")
    settings = Settings(data_dir=tmp_path)
    settings.ensure_dirs()
    from pipelines.resources import CivicloopSettingsResource

    resources = {"civicloop": CivicloopSettingsResource(data_dir=str(tmp_path))}
    with dg.build_sensor_context(resources=resources, definitions=defs) as context:
        assert isinstance(sensor(context), dg.SkipReason)
    (settings.inbox_dir("kpis") / "kpis_2026-01.csv").write_text("agency\n")
    with dg.build_sensor_context(resources=resources, definitions=defs) as context:
        request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["civicloop/sources"] == "kpis"
    selected = {key.to_user_string() for key in request.asset_selection or []}
    assert "raw/kpi_observations" in selected
    assert "raw/feedback_requests" not in selected


def test_a_new_partition_layout_forces_a_full_refresh(defs: dg.Definitions, tmp_path: Path) -> None:
    from pipelines.defs.transform import feedback_partition_layout_changed, incremental_models

    models = incremental_models()
    assert ("marts", "resident_comments") in models and len(models) == 10
    layout = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"][
        "feedback_partition_layout"
    ]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        assert not feedback_partition_layout_changed(con)  # a first build is a full build anyway
        for schema in {schema for schema, _ in models}:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for schema, table in models:
            con.execute(f"CREATE TABLE {schema}.{table} (x INTEGER)")
        assert feedback_partition_layout_changed(con)  # built before watermarks existed
        con.execute(
            "CREATE TABLE intermediate.feedback_build_watermarks "
            "(model_name VARCHAR, partition_layout VARCHAR)"
        )
        con.executemany(
            "INSERT INTO intermediate.feedback_build_watermarks VALUES (?, ?)",
            [(table, str(layout)) for _, table in models],
        )
        assert not feedback_partition_layout_changed(con)
        con.execute(
            "UPDATE intermediate.feedback_build_watermarks SET partition_layout = 'older' WHERE rowid = 0"
        )
        assert feedback_partition_layout_changed(con)


def test_dbt_parse_is_skipped_only_while_nothing_it_reads_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    prepare_dbt_manifest(settings)
    manifest = settings.dbt_project_dir / "target" / "manifest.json"
    written = manifest.stat().st_mtime_ns
    prepare_dbt_manifest(settings)
    assert manifest.stat().st_mtime_ns == written, "an unchanged project was parsed again"

    before = dbt_manifest_fingerprint(settings)
    configured = os.environ["CIVICLOOP_DUCKDB_MEMORY_LIMIT"]  # exported by prepare_dbt_manifest
    monkeypatch.setenv("CIVICLOOP_DUCKDB_MEMORY_LIMIT", "3GB")
    assert dbt_manifest_fingerprint(settings) != before, "profiles.yml reads this variable"
    monkeypatch.setenv("CIVICLOOP_DUCKDB_MEMORY_LIMIT", configured)
    assert dbt_manifest_fingerprint(settings) == before
    # Settings the dbt project never reads leave the manifest as it is.
    monkeypatch.setenv("CIVICLOOP_CITY_NAME", "Another City")
    monkeypatch.setenv("CIVICLOOP_WARM_DBT", "false")
    assert dbt_manifest_fingerprint(settings) == before
    monkeypatch.setenv("DBT_STATIC_PARSER", "false")
    assert dbt_manifest_fingerprint(settings) != before, "dbt reads its DBT_ variables"
    monkeypatch.delenv("DBT_STATIC_PARSER")
    # Another data folder keeps the warehouse's file name, hence the manifest, but not dbt's
    # partial-parse file: the warm dbt server refreshes that one (tests/test_warm_dbt.py).
    other = Settings(data_dir=tmp_path / "other")
    prepare_dbt_manifest(other)
    assert manifest.stat().st_mtime_ns == written
    assert not partial_parse_is_current(other)
    # A record is true only while the file is the one recorded: any other dbt command that
    # rewrites it (for another profile or other --vars) makes it stale.
    target = settings.dbt_project_dir / "target"
    record_partial_parse(target, partial_parse_key(other))
    assert partial_parse_is_current(other)
    msgpack = target / "partial_parse.msgpack"
    os.utime(msgpack, ns=(msgpack.stat().st_atime_ns, msgpack.stat().st_mtime_ns + 1))
    assert not partial_parse_is_current(other)
    # Another file name names another database in every manifest node: parse again.
    monkeypatch.setenv("CIVICLOOP_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "elsewhere.duckdb"))
    assert dbt_manifest_fingerprint(settings) != before


def test_the_parse_fingerprint_reads_the_project_but_not_dbt_output(tmp_path: Path) -> None:
    for name in (
        "dbt_project.yml",
        "models/a.sql",
        "models/target/b.sql",
        "target/run-1/compiled.sql",
        "logs/dbt.log",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name, encoding="utf-8")
    read = [path.relative_to(tmp_path).as_posix() for path in _project_source_files(tmp_path)]
    assert read == ["dbt_project.yml", "models/a.sql", "models/target/b.sql"]


def test_a_new_dbt_run_folder_does_not_change_the_parse_fingerprint(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    before = dbt_manifest_fingerprint(settings)
    run_folder = settings.dbt_project_dir / "target" / "civicloop_dbt_models-fingerprint-test"
    run_folder.mkdir(parents=True)
    try:
        (run_folder / "run_results.json").write_text("{}", encoding="utf-8")
        assert dbt_manifest_fingerprint(settings) == before
    finally:
        shutil.rmtree(run_folder)


def test_only_the_newest_dbt_run_folders_are_kept(tmp_path: Path) -> None:
    from pipelines.defs.transform import prune_dbt_run_folders

    for age in range(5):
        folder = tmp_path / f"civicloop_dbt_models-run{age}"
        folder.mkdir()
        (folder / "run_results.json").write_text("{}", encoding="utf-8")
        os.utime(folder, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "other-run").mkdir()

    deleted = prune_dbt_run_folders(tmp_path, keep=2)

    assert sorted(folder.name for folder in deleted) == [
        f"civicloop_dbt_models-run{age}" for age in (2, 3, 4)
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "civicloop_dbt_models-run0",
        "civicloop_dbt_models-run1",
        "manifest.json",
        "other-run",
    ]
