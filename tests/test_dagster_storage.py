"""The Dagster instance civicloop configures: its dagster.yaml and the pooled SQLite event log."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipelines.dagster_storage import PooledSqliteEventLogStorage
from pipelines.settings import DAGSTER_YAML_MARKER, write_dagster_yaml


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=counted)
def counted_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _instance(dagster_home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home))


def _materialize(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([counted], instance=instance, selection=[counted])
    assert result.success
    return result.run_id


def test_civicloop_writes_telemetry_off_and_the_pooled_event_log(tmp_path: Path) -> None:
    write_dagster_yaml(tmp_path)
    text = (tmp_path / "dagster.yaml").read_text(encoding="utf-8")
    assert text.startswith(DAGSTER_YAML_MARKER)
    assert "telemetry:\n  enabled: false" in text
    with _instance(tmp_path) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert instance.event_log_storage._base_dir == str(tmp_path / "storage")


def test_an_earlier_civicloop_dagster_yaml_is_upgraded_and_a_users_own_is_kept(tmp_path: Path) -> None:
    earlier, own = tmp_path / "earlier", tmp_path / "own"
    for home in (earlier, own):
        home.mkdir()
    (earlier / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    users_file = "telemetry:\n  enabled: false\nrun_monitoring:\n  enabled: true\n"
    (own / "dagster.yaml").write_text(users_file, encoding="utf-8")

    write_dagster_yaml(earlier)
    write_dagster_yaml(own)

    assert (earlier / "dagster.yaml").read_text(encoding="utf-8").startswith(DAGSTER_YAML_MARKER)
    assert (own / "dagster.yaml").read_text(encoding="utf-8") == users_file


def test_events_written_through_kept_engines_are_what_another_process_reads(tmp_path: Path) -> None:
    write_dagster_yaml(tmp_path)
    with _instance(tmp_path) as writer:
        storage = writer.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        run_ids = [_materialize(writer) for _ in range(storage.ENGINES_KEPT + 2)]
        # one engine per database file, the newest few: this run's own file and the index
        assert len(storage._engines) <= storage.ENGINES_KEPT
        assert "index" in storage._engines

    # A fresh instance, as the Dagster webserver or the next build would open it.
    with _instance(tmp_path) as reader:
        for run_id in run_ids:
            kinds = {event.dagster_event_type for event in reader.all_logs(run_id) if event.is_dagster_event}
            assert dg.DagsterEventType.ASSET_MATERIALIZATION in kinds
            assert dg.DagsterEventType.RUN_SUCCESS in kinds
        latest = reader.get_latest_materialization_event(counted.key)
        assert latest is not None and latest.run_id == run_ids[-1]
        assert latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["rows"] == dg.IntMetadataValue(3)


def test_asset_checks_are_recorded_in_the_cross_run_index(tmp_path: Path) -> None:
    write_dagster_yaml(tmp_path)
    with _instance(tmp_path) as instance:
        result = dg.materialize([counted, counted_has_rows], instance=instance)
        assert result.success
        check_key = dg.AssetCheckKey(counted.key, "counted_has_rows")
        records = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5)
    assert [record.run_id for record in records] == [result.run_id]


def test_wiping_the_event_log_closes_the_kept_engines_first(tmp_path: Path) -> None:
    write_dagster_yaml(tmp_path)
    with _instance(tmp_path) as instance:
        _materialize(instance)
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        storage.wipe()
        assert list(storage._engines) == ["index"]  # reopened by the wipe of the index itself
        assert sorted(path.name for path in (tmp_path / "storage").glob("*.db")) == ["index.db"]
        run_id = _materialize(instance)  # writes again into fresh files
        assert any(event.is_dagster_event for event in instance.all_logs(run_id))


@pytest.mark.parametrize("shards", [1, 9])
def test_engines_are_capped_and_reused(tmp_path: Path, shards: int) -> None:
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    try:
        for round_ in range(2):
            for shard in range(shards):
                with storage.run_connection(f"run-{shard}") as conn:
                    conn.exec_driver_sql("select 1")
            if round_ == 0:
                first = dict(storage._engines)
        assert len(storage._engines) <= storage.ENGINES_KEPT
        if shards < storage.ENGINES_KEPT:  # with the index's, every engine fits
            assert storage._engines == first, "an engine was rebuilt although it was kept"
    finally:
        storage.dispose()
