"""Opening the working warehouse and publishing the read-only snapshot.

The working file is locked by whichever process writes it, so dashboards and analysts never open
it: they read ``published/civicloop.duckdb``, a copy of the analyst-facing schemas that is written
next to its final place and swapped in with ``os.replace`` (atomic on POSIX). A reader that has the
old file open keeps reading the old inode until it reconnects, so nobody sees a half-built state.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.settings import Settings, dbt_project_vars

# Schemas that make up the analyst contract; staging and intermediate stay in the working file.
PUBLISHED_SCHEMAS = ("marts", "ops")
# One row per request for the national export: published only where the city allows that export
# (CIVICLOOP_EXPORT_REQUEST_FACTS), so other snapshots do not carry and copy the whole history.
REQUEST_FACTS = ("marts", "request_facts")


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the working warehouse with the configured resource limits."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(settings.warehouse_path),
        read_only=read_only,
        config={"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads},
    )
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class PublishResult:
    """What a publish wrote: the snapshot path and the row count of every table copied."""

    path: Path
    build_id: str
    table_rows: dict[str, int]


def _tables_to_publish(con: duckdb.DuckDBPyConnection, *, request_facts: bool) -> list[tuple[str, str]]:
    rows = con.execute(
        """
        select table_schema, table_name
        from information_schema.tables
        where table_catalog = 'work'
          and table_schema in (select unnest($schemas::varchar[]))
        order by table_schema, table_name
        """,
        {"schemas": list(PUBLISHED_SCHEMAS)},
    ).fetchall()
    tables = [(schema, name) for schema, name in rows]
    return tables if request_facts else [table for table in tables if table != REQUEST_FACTS]


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _replace_durably(staging_path: Path, final_path: Path) -> None:
    """Swap a fully written file into place: fsync it, ``os.replace`` it, fsync the folder."""
    with staging_path.open("rb") as handle:
        os.fsync(handle.fileno())
    staging_path.replace(final_path)
    directory_fd = os.open(final_path.parent, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


@contextmanager
def staged_snapshot(
    settings: Settings, final_path: Path, build_id: str, *, start_from: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a new DuckDB file that replaces ``final_path`` atomically when the block ends.

    The file is written next to its final place, empty or as a copy of ``start_from``; on any
    failure it is removed and the previous snapshot stays in place. Staging files of publishes
    killed mid-copy are removed first (never swapped in, so nobody reads them).
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    staging_path = final_path.with_name(f".{final_path.name}.{build_id}.tmp")
    for leftover in final_path.parent.glob(f".{final_path.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    try:
        if start_from is not None:
            shutil.copyfile(start_from, staging_path)
        con = duckdb.connect(
            str(staging_path),
            config={"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads},
        )
        try:
            yield con
            con.execute("checkpoint")
        finally:
            con.close()
        _replace_durably(staging_path, final_path)
    finally:
        staging_path.unlink(missing_ok=True)
        staging_path.with_name(staging_path.name + ".wal").unlink(missing_ok=True)


@dataclass(frozen=True)
class MonthPartitioned:
    """A request-level mart published month by month: the months dbt recorded as rebuilt.

    dbt rebuilds these marts by day (dbt_project/macros/feedback_incremental.sql) and records the
    months holding those days; publishing copies whole months.
    """

    month_expression: str
    # Rows are published in this order (a column whose month is the row's month): newest-first
    # reads (the comment search) and the month patches then skip whole row groups by their min/max
    # instead of scanning the history.
    order_by: str


# Publishing copies only the months rebuilt since the previous snapshot into a copy of it: a full
# copy of these tables is what grew with history.
MONTH_PARTITIONED: dict[tuple[str, str], MonthPartitioned] = {
    ("marts", "resident_comments"): MonthPartitioned(
        month_expression="cast(date_trunc('month', opened_at) as date)", order_by="opened_at"
    ),
    ("marts", "request_facts"): MonthPartitioned(month_expression="month_start", order_by="month_start"),
}
# Where dbt records the months each incremental model rebuilt, per build.
REBUILT_MONTHS = "work.intermediate.feedback_rebuilt_months"
# Deleted rows keep their space in a patched file; past this growth over its last fresh copy (in
# storage blocks, plus a slack for small files) the next publish writes a fresh file instead.
MAX_PATCHED_GROWTH = 1.5
PATCHED_GROWTH_SLACK_BLOCKS = 64


@dataclass(frozen=True)
class _PatchPlan:
    """What the previous snapshot lacks: per month-partitioned table, the months to replace."""

    months: dict[tuple[str, str], list[dt.date]]
    fresh_copy_blocks: int


def _column_signature(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[tuple]:
    return con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_catalog = ? and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [catalog, schema, table],
    ).fetchall()


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> bool:
    return bool(_column_signature(con, catalog, schema, table))


def _recorded_until(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    if not _has_table(con, "work", "intermediate", "feedback_rebuilt_months"):
        return None
    row = con.execute(f"select max(recorded_at) from {REBUILT_MONTHS}").fetchone()
    return row[0] if row else None


def _patch_plan(
    con: duckdb.DuckDBPyConnection, previous_path: Path, tables: list[tuple[str, str]]
) -> _PatchPlan | None:
    """The months to patch into a copy of the previous snapshot, or None when a fresh copy is due.

    A fresh copy is due when there is no readable previous snapshot or it predates the record of
    rebuilt months, when a table was rebuilt whole (full refresh, new reference data), when its columns
    changed, or when the patched file has grown past MAX_PATCHED_GROWTH.
    """
    partitioned = [table for table in tables if table in MONTH_PARTITIONED]
    if not partitioned or not previous_path.exists():
        return None
    try:
        con.execute(f"attach {_string_literal(str(previous_path))} as previous (read_only)")
    except duckdb.Error:
        # A damaged snapshot must not block publishing: the fresh copy replaces it.
        return None
    try:
        if not _has_table(con, "previous", "ops", "build_info"):
            return None
        info_columns = {name for name, _ in _column_signature(con, "previous", "ops", "build_info")}
        if not {"feedback_months_recorded_until", "fresh_copy_blocks"} <= info_columns:
            return None
        row = con.execute(
            "select feedback_months_recorded_until, fresh_copy_blocks from previous.ops.build_info"
        ).fetchone()
        if row is None or row[0] is None or row[1] is None:
            return None
        covered_until, fresh_copy_blocks = row
        if (
            _total_blocks(con, "previous")
            > MAX_PATCHED_GROWTH * fresh_copy_blocks + PATCHED_GROWTH_SLACK_BLOCKS
        ):
            return None
        months: dict[tuple[str, str], list[dt.date]] = {}
        for schema, name in partitioned:
            if _column_signature(con, "previous", schema, name) != _column_signature(
                con, "work", schema, name
            ):
                return None
            records = con.execute(
                f"""
                select bool_or(rebuild_all), list(distinct month_start order by month_start)
                    filter (where month_start is not null)
                from {REBUILT_MONTHS}
                where model_name = ? and recorded_at > ?
                """,
                [name, covered_until],
            ).fetchone()
            if records is None or records[0]:
                return None
            months[(schema, name)] = list(records[1] or [])
        return _PatchPlan(months=months, fresh_copy_blocks=int(fresh_copy_blocks))
    finally:
        con.execute("detach previous")


def _current_database(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("select current_database()").fetchone()
    return str(row[0]) if row else ""


def _total_blocks(con: duckdb.DuckDBPyConnection, database: str) -> int:
    row = con.execute(
        "select total_blocks from pragma_database_size() where database_name = ?", [database]
    ).fetchone()
    return int(row[0]) if row else 0


def _in_months(partitioned: MonthPartitioned, months: list[dt.date]) -> str:
    """Rows of the given months; the range on the sort column lets the scan skip row groups."""
    if not months:
        return "false"
    listed = ", ".join(f"date '{month.isoformat()}'" for month in months)
    first, last = min(months), max(months)
    return (
        f"{partitioned.order_by} >= date '{first.isoformat()}' "
        f"and {partitioned.order_by} < date '{last.isoformat()}' + interval 1 month "
        f"and {partitioned.month_expression} in ({listed})"
    )


def _copy_table(con: duckdb.DuckDBPyConnection, target: str, partitioned: MonthPartitioned | None) -> None:
    order = f" order by {partitioned.order_by}" if partitioned else ""
    con.execute(f"drop table if exists {target}")
    con.execute(f"create table {target} as select * from work.{target}{order}")


def _patch_table(
    con: duckdb.DuckDBPyConnection, target: str, partitioned: MonthPartitioned, months: list[dt.date]
) -> None:
    """Replace the given months of ``target`` with the warehouse's rows.

    Copies the table whole if the row counts then disagree: a change the record of rebuilt months
    did not name.
    """
    condition = _in_months(partitioned, months)
    con.execute(f"delete from {target} where {condition}")
    con.execute(
        f"insert into {target} select * from work.{target} where {condition} order by {partitioned.order_by}"
    )
    counts = con.execute(
        f"select (select count(*) from {target}), (select count(*) from work.{target})"
    ).fetchone()
    if counts is None or counts[0] != counts[1]:
        _copy_table(con, target, partitioned)


def _write_tables(
    con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]], plan: _PatchPlan | None
) -> dict[str, int]:
    for schema in PUBLISHED_SCHEMAS:
        con.execute(f"create schema if not exists {_quoted(schema)}")
    if plan is not None:
        # Tables the warehouse no longer publishes (a dropped mart, request facts switched off).
        kept = set(tables)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall():
            if (schema, name) not in kept:
                con.execute(f"drop table {_quoted(schema)}.{_quoted(name)}")
    table_rows: dict[str, int] = {}
    for schema, name in tables:
        target = f"{_quoted(schema)}.{_quoted(name)}"
        partitioned = MONTH_PARTITIONED.get((schema, name))
        if plan is not None and partitioned and (schema, name) in plan.months:
            _patch_table(con, target, partitioned, plan.months[(schema, name)])
        else:
            _copy_table(con, target, partitioned)
        count = con.execute(f"select count(*) from {target}").fetchone()
        table_rows[f"{schema}.{name}"] = int(count[0]) if count else 0
    return table_rows


def publish_snapshot(settings: Settings, *, build_id: str | None = None) -> PublishResult:
    """Copy the analyst-facing schemas into a new file and atomically replace the snapshot.

    The month-partitioned request-level marts are patched into a copy of the previous snapshot
    (only the months dbt rebuilt since it); everything else is copied whole. On any failure the
    temporary file is removed and the previous snapshot stays in place.
    """
    build_id = build_id or uuid.uuid4().hex[:12]
    final_path = settings.published_path
    with duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit}) as planner:
        planner.execute(f"attach {_string_literal(str(settings.warehouse_path))} as work (read_only)")
        tables = _tables_to_publish(planner, request_facts=settings.export_request_facts)
        if not any(schema == "marts" for schema, _ in tables):
            raise RuntimeError("the warehouse has no marts tables yet: nothing to publish")
        plan = _patch_plan(planner, final_path, tables)
        recorded_until = _recorded_until(planner)
    with staged_snapshot(settings, final_path, build_id, start_from=final_path if plan else None) as con:
        # ATTACH takes no bound parameters; the path comes from settings, quoted as a literal.
        con.execute(f"attach {_string_literal(str(settings.warehouse_path))} as work (read_only)")
        table_rows = _write_tables(con, tables, plan)
        con.execute("detach work")
        # The size of a fresh file, to tell later patched copies how much they have grown.
        if plan is None:
            con.execute("checkpoint")
        fresh_copy_blocks = plan.fresh_copy_blocks if plan else _total_blocks(con, _current_database(con))
        con.execute(
            """
            create table ops.build_info as
            select ?::varchar as build_id, ?::timestamp as published_at,
                   ?::varchar as method_version,
                   ?::timestamp as feedback_months_recorded_until,
                   ?::bigint as fresh_copy_blocks
            """,
            [
                build_id,
                dt.datetime.now().replace(microsecond=0),
                str(dbt_project_vars(settings.dbt_project_dir)["method_version"]),
                recorded_until,
                fresh_copy_blocks,
            ],
        )
    return PublishResult(path=final_path, build_id=build_id, table_rows=table_rows)
