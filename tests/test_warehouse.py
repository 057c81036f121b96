"""Publishing: atomic replacement, read-only readers never blocked, failures keep the old file."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import Settings, dbt_project_vars
from pipelines.warehouse import publish_snapshot


def _write_warehouse(settings: Settings, value: int) -> None:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists ops")
        con.execute("create schema if not exists staging")
        con.execute("create or replace table marts.scores as select ? as value", [value])
        con.execute("create or replace table ops.load_log as select 'a.csv' as file")
        con.execute("create or replace table staging.hidden as select 1 as x")


def test_publish_copies_only_the_analyst_schemas(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _write_warehouse(settings, 7)
    result = publish_snapshot(settings, build_id="b1")
    assert result.table_rows == {"marts.scores": 1, "ops.load_log": 1}
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.sql("select value from marts.scores").fetchone() == (7,)
        assert con.sql("select build_id from ops.build_info").fetchone() == ("b1",)
        # The stamp is the method version the marts were computed with, declared once in dbt.
        assert con.sql("select method_version from ops.build_info").fetchone() == (
            str(dbt_project_vars()["method_version"]),
        )
        schemas = {
            row[0] for row in con.sql("select schema_name from information_schema.schemata").fetchall()
        }
    assert "staging" not in schemas
    assert [p.name for p in settings.published_path.parent.iterdir()] == ["civicloop.duckdb"]


def test_failed_publish_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _write_warehouse(settings, 1)
    publish_snapshot(settings, build_id="good")
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("drop table marts.scores")
    with pytest.raises(RuntimeError, match="no marts"):
        publish_snapshot(settings, build_id="bad")
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.sql("select build_id from ops.build_info").fetchone() == ("good",)
    assert [p.name for p in settings.published_path.parent.iterdir()] == ["civicloop.duckdb"]


def _read_continuously(path: str, seconds: float, queue: multiprocessing.Queue) -> None:
    errors, reads = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(path, read_only=True) as con:
                con.sql("select value from marts.scores").fetchone()
            reads += 1
        except duckdb.Error:
            errors += 1
    queue.put((reads, errors))


def test_readers_are_never_blocked_while_a_build_writes_and_publishes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _write_warehouse(settings, 0)
    publish_snapshot(settings)
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    reader = multiprocessing.get_context("spawn").Process(
        target=_read_continuously, args=(str(settings.published_path), 3.0, queue)
    )
    reader.start()
    # The writer holds the working file's lock the whole time, as a running build does.
    with duckdb.connect(str(settings.warehouse_path)) as writer:
        for value in range(1, 6):
            writer.execute("create or replace table marts.scores as select ? as value", [value])
            writer.execute("checkpoint")
            time.sleep(0.3)
    for _ in range(5):
        publish_snapshot(settings)
    reader.join(timeout=30)
    reads, errors = queue.get(timeout=5)
    assert errors == 0
    assert reads > 10


def test_request_facts_reach_the_snapshot_only_where_export_is_allowed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, export_request_facts=False)
    _write_warehouse(settings, 3)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create table marts.request_facts as select 'r-1' as request_id")
    assert "marts.request_facts" not in publish_snapshot(settings, build_id="b1").table_rows

    allowed = settings.model_copy(update={"export_request_facts": True})
    assert publish_snapshot(allowed, build_id="b2").table_rows["marts.request_facts"] == 1
