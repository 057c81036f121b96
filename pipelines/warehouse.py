"""Opening the working warehouse and publishing the read-only snapshot.

The working file is locked by whichever process writes it, so dashboards and analysts never open
it: they read ``published/civicloop.duckdb``, a copy of the analyst-facing schemas that is written
next to its final place and swapped in with ``os.replace`` (atomic on POSIX). A reader that has the
old file open keeps reading the old inode until it reconnects, so nobody sees a half-built state.
"""

from __future__ import annotations

import datetime as dt
import os
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
    settings: Settings, final_path: Path, build_id: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a new DuckDB file that replaces ``final_path`` atomically when the block ends.

    The file is written next to its final place; on any failure it is removed and the previous
    snapshot stays in place. Staging files of publishes killed mid-copy are removed first (never
    swapped in, so nobody reads them).
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    staging_path = final_path.with_name(f".{final_path.name}.{build_id}.tmp")
    for leftover in final_path.parent.glob(f".{final_path.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    try:
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


def publish_snapshot(settings: Settings, *, build_id: str | None = None) -> PublishResult:
    """Copy the analyst-facing schemas into a fresh file and atomically replace the snapshot.

    On any failure the temporary file is removed and the previous snapshot stays in place.
    """
    build_id = build_id or uuid.uuid4().hex[:12]
    final_path = settings.published_path
    table_rows: dict[str, int] = {}
    with staged_snapshot(settings, final_path, build_id) as con:
        # ATTACH takes no bound parameters; the path comes from settings, quoted as a literal.
        con.execute(f"attach {_string_literal(str(settings.warehouse_path))} as work (read_only)")
        tables = _tables_to_publish(con, request_facts=settings.export_request_facts)
        if not any(schema == "marts" for schema, _ in tables):
            raise RuntimeError("the warehouse has no marts tables yet: nothing to publish")
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {_quoted(schema)}")
        for schema, name in tables:
            target = f"{_quoted(schema)}.{_quoted(name)}"
            con.execute(f"create table {target} as select * from work.{target}")
            count = con.execute(f"select count(*) from {target}").fetchone()
            table_rows[f"{schema}.{name}"] = int(count[0]) if count else 0
        con.execute(
            """
            create table ops.build_info as
            select ?::varchar as build_id, ?::timestamp as published_at,
                   ?::varchar as method_version
            """,
            [
                build_id,
                dt.datetime.now().replace(microsecond=0),
                str(dbt_project_vars(settings.dbt_project_dir)["method_version"]),
            ],
        )
        con.execute("detach work")
    return PublishResult(path=final_path, build_id=build_id, table_rows=table_rows)
