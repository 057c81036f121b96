"""Reading the decision register (the dashboard's SQLite store) back into the warehouse.

This closes the loop: decisions recorded in a quarterly review become a source of the next build.
The register is append-only, so only entries not yet in ``raw.review_decisions`` are copied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import polars as pl

from dashboards.decisions import COLUMNS as REGISTER_COLUMNS

# The register's schema belongs to the store that writes it.
DECISION_COLUMNS = REGISTER_COLUMNS


def read_register(decisions_path: Path) -> pl.DataFrame:
    """All register entries as text columns; an absent register has no entries."""
    schema = dict.fromkeys(DECISION_COLUMNS, pl.String)
    if not decisions_path.exists():
        return pl.DataFrame(schema=schema)
    # Read-only URI so that a build never takes a write lock on the editors' store.
    with sqlite3.connect(f"{decisions_path.as_uri()}?mode=ro", uri=True, timeout=30) as register:
        has_table = register.execute(
            "select 1 from sqlite_master where type = 'table' and name = 'decisions'"
        ).fetchone()
        if not has_table:
            return pl.DataFrame(schema=schema)
        cursor = register.execute(f"select {', '.join(DECISION_COLUMNS)} from decisions")
        rows = cursor.fetchall()
    return pl.DataFrame(
        [[None if value is None else str(value) for value in row] for row in rows],
        schema=schema,
        orient="row",
    )


def sync_register(con: duckdb.DuckDBPyConnection, decisions_path: Path) -> int:
    """Append register entries missing from ``raw.review_decisions``; returns how many."""
    entries = read_register(decisions_path)
    if entries.is_empty():
        return 0
    con.register("register_entries", entries.to_arrow())
    try:
        before = con.execute("select count(*) from raw.review_decisions").fetchone()
        con.execute(
            """
            insert into raw.review_decisions by name
            select
                entry_id,
                try_cast(recorded_at as timestamp) as recorded_at,
                recorded_by,
                review_quarter,
                indicator_id,
                decision,
                try_cast(new_target as double) as new_target,
                try_cast(effective_from as date) as effective_from,
                action_text,
                action_owner,
                try_cast(action_due as date) as action_due,
                action_status,
                try_cast(action_completed_on as date) as action_completed_on,
                rationale,
                corrects_entry_id
            from register_entries as entry
            where not exists (
                select 1 from raw.review_decisions as known where known.entry_id = entry.entry_id
            )
            """
        )
        after = con.execute("select count(*) from raw.review_decisions").fetchone()
    finally:
        con.unregister("register_entries")
    return int(after[0]) - int(before[0]) if after and before else 0
