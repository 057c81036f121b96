"""The federation contract: a city's published marts as Parquet, with a manifest of sha256s.

``civicloop export --out DIR`` reads the city's **published** snapshot (read-only, never the
working warehouse: the snapshot is the last good build, consistent across tables) and writes::

    DIR/city=<slug>/manifest.json
    DIR/city=<slug>/<table>/period=<YYYY-MM-DD>/data_0.parquet   (tables with a period column)
    DIR/city=<slug>/<table>/data_0.parquet                      (tables without one)

Every file carries the column ``city_slug`` as well as its own period column, so a reader never
depends on the folder names (DuckDB and Spark infer partition columns differently). The export is
written next to its final place and renamed in, so the national office never sees half a city.

A reader (:func:`read_manifest`) recomputes every file's sha256 and refuses an export whose files
differ from its manifest, lack one, or have files the manifest does not name
(docs/contracts.md, "Federation").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb

from pipelines.settings import Settings
from pipelines.warehouse import _quoted, _string_literal

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
# Published marts a national office receives, with the column each is partitioned by (None: not
# partitioned). Enough for every national mart; request-level facts are extra and opt-in.
EXPORT_TABLES: dict[str, str | None] = {
    "consideration_scores": "period_start",
    "composite_scores": "period_start",
    "indicator_values": "period_start",
    "indicator_catalog": None,
    "districts": None,
    "feedback_funnel": "period_start",
    "equity_theil": "period_start",
    "source_freshness": None,
}
REQUEST_FACTS_TABLE = "request_facts"
REQUEST_FACTS_PARTITION = "month_start"
# Columns left out of an export: district shapes are large and the national office has no use
# for them.
DROPPED_COLUMNS = {"districts": ("geometry_json",)}


class ExportError(RuntimeError):
    """The city's snapshot cannot be exported (missing, or without the tables the contract needs)."""


class ExportIntegrityError(RuntimeError):
    """An export does not match its manifest: a file was changed, removed or added."""


def framework_version() -> str:
    """The civicloop package version: the 'framework version' of the manifest."""
    try:
        return version("civicloop")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"


def version_rank(text: str) -> int:
    """``major.minor.patch`` as one comparable integer (missing parts count as 0)."""
    parts = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def city_dir_name(slug: str) -> str:
    return f"city={slug}"


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [str(name) for (name,) in rows]


def write_table(
    con: duckdb.DuckDBPyConnection,
    *,
    select_sql: str,
    params: list[Any],
    out_dir: Path,
    partition_column: str | None,
) -> list[Path]:
    """Write one query's rows as Parquet under ``out_dir`` (``period=`` folders when partitioned).

    Rows are ordered by every column so that the same snapshot gives the same bytes.
    ``select_sql`` is built from catalogue names only; values are bound through ``params``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = f"select * from ({select_sql}) order by all"
    if partition_column is None:
        target = out_dir / "data_0.parquet"
        con.execute(
            f"copy ({ordered}) to {_string_literal(str(target))} (format parquet, compression zstd)",
            params,
        )
        return [target]
    partitioned = (
        f"select *, strftime({_quoted(partition_column)}, '%Y-%m-%d') as period from ({ordered}) order by all"
    )
    # COPY takes its target as a literal; the folder comes from our own paths.
    con.execute(
        f"copy ({partitioned}) to {_string_literal(str(out_dir))} "
        "(format parquet, compression zstd, partition_by (period), filename_pattern 'data_{i}')",
        params,
    )
    return sorted(out_dir.rglob("*.parquet"))


@dataclass(frozen=True)
class ExportResult:
    """Where a city's export went and what its manifest says."""

    city_dir: Path
    manifest: dict[str, Any]


def _snapshot_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    info = con.execute("select build_id, published_at, method_version from ops.build_info").fetchone()
    if info is None:
        raise ExportError("the snapshot has no ops.build_info row: rebuild the city before exporting")
    period = con.execute(
        "select min(period_start), max(period_start) from marts.consideration_scores where grain = 'quarter'"
    ).fetchone()
    population = con.execute("select sum(population) from marts.districts").fetchone()
    return {
        "build_id": str(info[0]),
        "published_at": info[1].isoformat() if info[1] else None,
        "method_version": str(info[2]),
        "period_start": period[0].isoformat() if period and period[0] else None,
        "period_end": period[1].isoformat() if period and period[1] else None,
        "population": int(population[0]) if population and population[0] is not None else None,
    }


def export_city(settings: Settings, out_dir: Path, *, request_facts: bool | None = None) -> ExportResult:
    """Export the published snapshot to ``out_dir/city=<slug>/`` and return the manifest.

    ``request_facts`` defaults to ``settings.export_request_facts`` (off unless the city allows it).
    An earlier export of the same city is replaced whole, atomically.
    """
    include_facts = settings.export_request_facts if request_facts is None else request_facts
    snapshot = settings.published_path
    if not snapshot.exists():
        raise ExportError(f"no published snapshot at {snapshot}: run `civicloop build` first")
    slug = settings.resolved_city_slug
    out_dir = out_dir.expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final_dir = out_dir / city_dir_name(slug)
    staging_dir = out_dir / f".{city_dir_name(slug)}.{uuid.uuid4().hex[:8]}.tmp"
    tables = dict(EXPORT_TABLES)
    if include_facts:
        tables[REQUEST_FACTS_TABLE] = REQUEST_FACTS_PARTITION
    con = duckdb.connect(
        str(snapshot),
        read_only=True,
        config={"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads},
    )
    try:
        facts = _snapshot_facts(con)
        manifest_tables: dict[str, Any] = {}
        for table, partition_column in tables.items():
            columns = _table_columns(con, table)
            if not columns and table == REQUEST_FACTS_TABLE:
                raise ExportError(
                    "the snapshot has no marts.request_facts: it is published only where the city "
                    "allows request-level export; set CIVICLOOP_EXPORT_REQUEST_FACTS=true and rebuild"
                )
            if not columns:
                raise ExportError(
                    f"the snapshot has no marts.{table}: rebuild the city with this civicloop version"
                )
            kept = [c for c in columns if c not in DROPPED_COLUMNS.get(table, ())]
            select_sql = "select ?::varchar as city_slug, {} from marts.{}".format(
                ", ".join(_quoted(c) for c in kept), _quoted(table)
            )
            files = write_table(
                con,
                select_sql=select_sql,
                params=[slug],
                out_dir=staging_dir / table,
                partition_column=partition_column,
            )
            rows = con.execute(f"select count(*) from marts.{_quoted(table)}").fetchone()
            manifest_tables[table] = {
                "rows": int(rows[0]) if rows else 0,
                "partitioned_by": partition_column,
                "columns": ["city_slug", *kept],
                "files": [
                    {
                        "path": path.relative_to(staging_dir).as_posix(),
                        "sha256": sha256_of(path),
                        "bytes": path.stat().st_size,
                    }
                    for path in files
                ],
            }
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    finally:
        con.close()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "city": {"slug": slug, "name": settings.city_name, "population": facts.pop("population")},
        "framework_version": framework_version(),
        "method_version": facts.pop("method_version"),
        "period_covered": {"start": facts.pop("period_start"), "end": facts.pop("period_end")},
        "build": facts,
        "exported_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "request_facts": include_facts,
        "tables": manifest_tables,
    }
    (staging_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _swap_in(staging_dir, final_dir)
    return ExportResult(city_dir=final_dir, manifest=manifest)


def _swap_in(staging_dir: Path, final_dir: Path) -> None:
    """Replace ``final_dir`` by ``staging_dir``: a reader sees the old export or the new one."""
    retired = final_dir.with_name(f".{final_dir.name}.{uuid.uuid4().hex[:8]}.old")
    if final_dir.exists():
        final_dir.replace(retired)
    staging_dir.replace(final_dir)
    shutil.rmtree(retired, ignore_errors=True)


def read_manifest(city_dir: Path) -> dict[str, Any]:
    """The manifest of one city's export, after checking every file against its sha256.

    Raises :class:`ExportIntegrityError` naming the first file that is missing, changed or not in
    the manifest.
    """
    manifest_path = city_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ExportIntegrityError(f"{city_dir} has no {MANIFEST_NAME}: not a civicloop export")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ExportIntegrityError(f"{manifest_path} is not valid JSON: {error}") from error
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ExportIntegrityError(
            f"{manifest_path}: manifest version {manifest.get('manifest_version')!r}, "
            f"this civicloop reads {MANIFEST_VERSION}"
        )
    expected_dir = city_dir_name(manifest["city"]["slug"])
    if city_dir.name != expected_dir:
        raise ExportIntegrityError(f"{city_dir} holds the export of {expected_dir}: folder renamed?")
    listed: set[str] = set()
    for table, entry in manifest["tables"].items():
        for file in entry["files"]:
            path = city_dir / file["path"]
            listed.add(file["path"])
            if not path.is_file():
                raise ExportIntegrityError(f"{city_dir.name}: {file['path']} ({table}) is missing")
            if sha256_of(path) != file["sha256"]:
                raise ExportIntegrityError(
                    f"{city_dir.name}: {file['path']} ({table}) does not match its sha256 in the "
                    "manifest; the export was changed after it was written. Ask the city to export again."
                )
    unlisted = sorted(
        path.relative_to(city_dir).as_posix()
        for path in city_dir.rglob("*")
        if path.is_file() and path.name != MANIFEST_NAME
    )
    extra = [path for path in unlisted if path not in listed]
    if extra:
        raise ExportIntegrityError(f"{city_dir.name}: files not in the manifest: {', '.join(extra[:5])}")
    return manifest


def read_exports(exports_dir: Path) -> list[dict[str, Any]]:
    """Every city's verified manifest under ``exports_dir`` (folders ``city=<slug>``), by slug."""
    city_dirs = sorted(path for path in exports_dir.glob("city=*") if path.is_dir())
    if not city_dirs:
        raise ExportError(f"no city exports (folders city=<slug>) under {exports_dir}")
    return [read_manifest(path) for path in city_dirs]
