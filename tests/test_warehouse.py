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
        con.execute(
            "create table marts.request_facts as select 'r-1' as request_id, date '2026-01-01' as month_start"
        )
    assert "marts.request_facts" not in publish_snapshot(settings, build_id="b1").table_rows

    allowed = settings.model_copy(update={"export_request_facts": True})
    assert publish_snapshot(allowed, build_id="b2").table_rows["marts.request_facts"] == 1


# --- month patches of the request-level marts -----------------------------------------------------

MARKER = "left untouched by the patch"


def _write_comments_warehouse(settings: Settings) -> None:
    """A warehouse with resident comments in January and February, built whole once."""
    _write_warehouse(settings, 1)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create or replace table marts.resident_comments as "
            "select 'r-' || i as request_id, timestamp '2026-01-01' + to_days(i) as opened_at, "
            "'text ' || i as description from range(59) as t(i)"
        )
        con.execute(
            "create or replace table intermediate.feedback_rebuilt_months ("
            "model_name varchar, month_start date, rebuild_all boolean, recorded_at timestamp)"
        )
        _record_rebuild(con, None)


def _record_rebuild(con: duckdb.DuckDBPyConnection, month: str | None) -> None:
    con.execute(
        "insert into intermediate.feedback_rebuilt_months values "
        "('resident_comments', ?::date, ? is null, current_timestamp::timestamp)",
        [month, month],
    )


def _rebuild_february(settings: Settings) -> None:
    """What an increment does: rewrite February's comments and record the month."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("delete from marts.resident_comments where opened_at >= '2026-02-01'")
        con.execute(
            "insert into marts.resident_comments "
            "select 'r-new-' || i, timestamp '2026-02-01' + to_days(i), 'new text ' || i from range(10) t(i)"
        )
        _record_rebuild(con, "2026-02-01")


def _mark_january_in_snapshot(settings: Settings) -> None:
    with duckdb.connect(str(settings.published_path)) as con:
        con.execute("update marts.resident_comments set description = ? where request_id = 'r-0'", [MARKER])


def _snapshot_comments(settings: Settings) -> dict[str, str]:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return dict(con.execute("select request_id, description from marts.resident_comments").fetchall())


def _published_then_february_rebuilt(tmp_path: Path) -> Settings:
    """A full publish, a marker in the snapshot's January, then an increment that rebuilt February."""
    settings = Settings(data_dir=tmp_path)
    _write_comments_warehouse(settings)
    publish_snapshot(settings, build_id="full")
    _mark_january_in_snapshot(settings)
    _rebuild_february(settings)
    return settings


def test_publish_patches_only_the_rebuilt_months_into_the_previous_snapshot(tmp_path: Path) -> None:
    settings = _published_then_february_rebuilt(tmp_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create or replace table marts.scores as select 2 as value")

    result = publish_snapshot(settings, build_id="patch")

    comments = _snapshot_comments(settings)
    assert comments["r-0"] == MARKER  # January came from the previous snapshot, not the warehouse
    assert {rid for rid in comments if rid.startswith("r-new-")} == {f"r-new-{i}" for i in range(10)}
    assert not any(rid in comments for rid in ("r-31", "r-58"))  # February's old rows are gone
    assert result.table_rows["marts.resident_comments"] == 31 + 10
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.sql("select value from marts.scores").fetchone() == (2,)  # small tables: copied
        assert con.sql("select build_id from ops.build_info").fetchone() == ("patch",)


@pytest.mark.parametrize(
    "change",
    [
        "a whole rebuild",
        "new columns",
        "a bloated file",
        "a snapshot from before the record",
        "a damaged file",
        "a change the record does not name",
    ],
)
def test_publish_copies_whole_when_a_patch_cannot_be_trusted(
    tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _published_then_february_rebuilt(tmp_path)
    if change == "a bloated file":
        # Small files grow by whole blocks; without the slack the marker's update alone would do.
        monkeypatch.setattr("pipelines.warehouse.PATCHED_GROWTH_SLACK_BLOCKS", 0)
    with duckdb.connect(str(settings.warehouse_path)) as warehouse:
        if change == "a whole rebuild":
            _record_rebuild(warehouse, None)
        elif change == "new columns":
            warehouse.execute("alter table marts.resident_comments add column sentiment double")
        elif change == "a change the record does not name":
            warehouse.execute("delete from marts.resident_comments where request_id = 'r-1'")
    if change in ("a bloated file", "a snapshot from before the record"):
        with duckdb.connect(str(settings.published_path)) as snapshot:
            if change == "a bloated file":
                snapshot.execute("update ops.build_info set fresh_copy_blocks = 1")
            else:
                snapshot.execute("alter table ops.build_info drop column feedback_months_recorded_until")

    if change == "a damaged file":
        with settings.published_path.open("r+b") as snapshot_file:
            snapshot_file.write(b"not a DuckDB file" * 100)

    publish_snapshot(settings, build_id="again")

    assert MARKER not in _snapshot_comments(settings).values()
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        columns = [row[0] for row in con.sql("describe marts.resident_comments").fetchall()]
    assert ("sentiment" in columns) == (change == "new columns")


def test_a_patched_snapshot_drops_tables_the_warehouse_no_longer_publishes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, export_request_facts=True)
    _write_comments_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "create table marts.request_facts as select 'r-1' as request_id, date '2026-01-01' as month_start"
        )
    publish_snapshot(settings, build_id="with facts")
    _rebuild_february(settings)

    result = publish_snapshot(settings.model_copy(update={"export_request_facts": False}), build_id="without")

    assert "marts.request_facts" not in result.table_rows
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        tables = {row[0] for row in con.sql("select table_name from information_schema.tables").fetchall()}
    assert "request_facts" not in tables and "resident_comments" in tables


def test_a_fresh_copy_stores_the_comments_in_the_order_they_were_opened(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _write_comments_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            "create or replace table marts.resident_comments as "
            "from marts.resident_comments order by random()"
        )
    publish_snapshot(settings)
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        # rowid is the storage order, what the min/max of each row group follow.
        stored = [
            row[0]
            for row in con.sql("select opened_at from marts.resident_comments order by rowid").fetchall()
        ]
    assert stored == sorted(stored)
