"""Persist quality verdicts: one ``ops.check_results`` row per suite run, plus the full GX result.

``ops`` is published as-is, so analysts can see which checks ran for the snapshot they read.
The full GX validation result is too large for a table cell that dashboards scan, so it goes to
``<data>/quality/gx_results/<build_id>/<suite>.json`` and the row keeps the compact summary.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.quality.gx_runner import SuiteOutcome
from pipelines.settings import Settings

if TYPE_CHECKING:
    import duckdb

# build ids become directory names: refuse anything that could climb out of gx_results/.
_BUILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

CHECK_RESULTS_DDL = """
create table if not exists ops.check_results (
    build_id varchar not null,
    check_name varchar not null,
    asset varchar not null,
    severity varchar not null,
    passed boolean not null,
    summary varchar,
    details_json varchar,
    checked_at timestamp not null
)
"""


def ensure_quality_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``ops`` and table ``ops.check_results`` if missing (idempotent)."""
    con.execute("create schema if not exists ops")
    con.execute(CHECK_RESULTS_DDL)


def record_outcome(
    con: duckdb.DuckDBPyConnection,
    build_id: str,
    asset: str,
    outcome: SuiteOutcome,
    *,
    checked_at: dt.datetime | None = None,
) -> None:
    """Append one row for a suite run to ``ops.check_results``.

    ``severity`` is the worst severity that failed (``error``, ``warning``) or ``none`` when
    everything passed; ``passed`` follows ``outcome.success`` (warnings do not fail a check).
    A re-run of the same check in the same build replaces its row, so retries do not double up.
    """
    _check_build_id(build_id)
    ensure_quality_schema(con)
    if outcome.errors:
        severity = "error"
    elif outcome.warnings:
        severity = "warning"
    else:
        severity = "none"
    when = checked_at or dt.datetime.now().replace(microsecond=0)
    details = json.dumps(outcome.to_metadata(), sort_keys=True)
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from ops.check_results where build_id = ? and check_name = ? and asset = ?",
            [build_id, outcome.suite, asset],
        )
        con.execute(
            """
            insert into ops.check_results
                (build_id, check_name, asset, severity, passed, summary, details_json, checked_at)
            values (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [build_id, outcome.suite, asset, severity, outcome.success, outcome.summary(), details, when],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def result_path(settings: Settings, build_id: str, suite: str) -> Path:
    """Where the full GX result of a suite in a build is stored."""
    _check_build_id(build_id)
    return settings.resolved_data_dir / "quality" / "gx_results" / build_id / f"{suite}.json"


def save_result(settings: Settings, build_id: str, outcome: SuiteOutcome) -> Path:
    """Write the full GX validation result as JSON and return its path.

    Written to a sibling temporary file and renamed, so a reader never sees half a file.
    """
    path = result_path(settings, build_id, outcome.suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps(outcome.result_json, indent=2, sort_keys=True, allow_nan=False),
        encoding="utf-8",
    )
    tmp.replace(path)
    return path


def _check_build_id(build_id: str) -> None:
    if not _BUILD_ID.match(build_id) or ".." in build_id:
        raise ValueError(f"build_id {build_id!r} must be a plain token (letters, digits, _.:-)")
