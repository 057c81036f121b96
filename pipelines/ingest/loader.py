"""Load every inbox file of a source into raw.*, exactly once, with nothing lost.

Per file: sha256 -> duplicate check against ops.load_log; parse and validate with polars (lazy,
collected once at this edge), in a reader thread that works up to a batch ahead of the commits
(``read_ahead``; not for reference files, whose parser compares with what the previous one wrote).
Per batch of files: stage accepted rows in DuckDB via Arrow; insert new keys and update changed
ones with an anti-join (the cheapest idempotent path, see PERF_NOTES); quarantine invalid rows;
one ops.load_log row per file; then move the files to the archive or to rejected/. A batch is one
transaction, so a failure leaves the warehouse as it was; a batch that fails in the database is
retried file by file so that the other files still load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from pipelines.ingest.decoding import UnreadableFileError, decode_bytes
from pipelines.ingest.privacy import redact_message
from pipelines.ingest.read_ahead import read_ahead
from pipelines.ingest.schema import ensure_warehouse_schema, table_columns
from pipelines.settings import SOURCES, Settings

LoadStatus = Literal["loaded", "duplicate", "rejected"]
UNCOMPARED_COLUMNS = {"source_file", "loaded_at", "record_hash"}
STAGE_VIEW = "ingest_stage_frame"
STAGE_TABLE = "ingest_stage"
CHANGES_TABLE = "ingest_changes"


@dataclass(frozen=True)
class IngestSummary:
    """What one ``ingest_source`` run did (all files of one source)."""

    source: str
    files_seen: int
    files_loaded: int
    files_duplicate: int
    files_rejected: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    affected_days: frozenset[dt.date]


@dataclass(frozen=True)
class TableWrite:
    """Accepted rows for one raw table and how they merge into it."""

    table: str
    frame: pl.DataFrame
    keys: tuple[str, ...]
    mode: Literal["upsert", "replace", "feedback"] = "upsert"


@dataclass
class ParsedFile:
    """A parsed file: rows read, accepted writes, quarantined rows (line, reason, raw_record)."""

    rows_read: int
    rows_accepted: int
    writes: list[TableWrite]
    quarantine: pl.DataFrame
    affected_days: set[dt.date] = field(default_factory=set)


@dataclass(frozen=True)
class LoadContext:
    """Everything a source parser may need besides the file itself."""

    con: duckdb.DuckDBPyConnection
    settings: Settings
    now: dt.datetime
    pseudonym_key: bytes

    def district_aliases(self) -> pl.LazyFrame:
        """The reference alias table (alias_normalised, district_code) as it is now."""
        return self.con.sql("SELECT alias_normalised, district_code FROM raw.district_aliases").pl().lazy()


SourceParser = Callable[[Path, str, LoadContext], ParsedFile]


def _parsers() -> dict[str, SourceParser]:
    from pipelines.ingest.feedback_source import parse_feedback_file
    from pipelines.ingest.kpis import parse_kpi_file
    from pipelines.ingest.reference import parse_reference_file
    from pipelines.ingest.reviews import parse_reviews_file
    from pipelines.ingest.survey import parse_survey_file

    parsers: dict[str, SourceParser] = {
        "reference": parse_reference_file,
        "feedback": parse_feedback_file,
        "kpis": parse_kpi_file,
        "survey": parse_survey_file,
        "reviews": parse_reviews_file,
    }
    return parsers


def inbox_files(settings: Settings, source: str) -> list[Path]:
    """Data files waiting in a source's inbox (configuration files such as codebooks excluded)."""
    from pipelines.ingest.survey import survey_config_files

    folder = settings.inbox_dir(source)
    if not folder.is_dir():
        return []
    excluded = set(survey_config_files(folder)) if source == "survey" else set()
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path not in excluded
    )


# What a malformed file is expected to raise: it is rejected with the parser's own message.
EXPECTED_REJECTIONS = (
    UnreadableFileError,
    AssertionError,
    duckdb.Error,
    pl.exceptions.PolarsError,
    ValueError,
)
# Anything else a parser raises on a malformed file (RecursionError on deeply nested JSON, a Rust
# panic inside polars, a TypeError on an unexpected shape) rejects that one file instead of stopping
# the whole source. OSError is not about the file's content (disk full, permissions) and still stops.
PARSER_FAILURES: tuple[type[BaseException], ...] = (Exception, pl.exceptions.PanicException)
MAX_ERROR_CHARS = 2_000

# Sources whose parser reads what earlier files of the same source wrote (reference snapshots compare
# with the rows they replace): their files are parsed one at a time, after the previous commit.
PARSES_WAREHOUSE_STATE = frozenset({"reference"})

# Accepted rows are merged in batches: the merge joins against the whole raw table, so its cost is
# per statement, not per row, and one merge per daily file made ingest quadratic in history.
BATCH_ROWS = 250_000


@dataclass
class _PendingFile:
    path: Path
    sha: str
    parsed: ParsedFile


def ingest_source(con: duckdb.DuckDBPyConnection, settings: Settings, source: str) -> IngestSummary:
    """Load every file in settings.inbox_dir(source) into raw.* and move it out of the inbox.

    Accepted/duplicate -> settings.raw_archive_dir(source)/<YYYY-MM-DD>/<sha256[:12]>__<name>,
    rejected -> settings.rejected_dir(source)/); one ops.load_log row per file; quarantine rows.
    Files are parsed in order, up to a batch ahead in a reader thread, and committed in batches of
    about ``BATCH_ROWS`` rows; a batch is one transaction, and files leave the inbox only after
    their batch committed.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
    ensure_warehouse_schema(con)
    parser = _parsers()[source]
    counts = {"loaded": 0, "duplicate": 0, "rejected": 0}
    rows = {"read": 0, "accepted": 0, "quarantined": 0}
    affected: set[dt.date] = set()
    files = inbox_files(settings, source)
    now = dt.datetime.now().replace(microsecond=0)
    context = LoadContext(con, settings, now, settings.pseudonym_key_bytes())
    pending: list[_PendingFile] = []
    loaded_before = frozenset(_loaded_shas(con, source))
    # This process is the warehouse's only writer: the load log's loaded files are the ones it had
    # at the start and the ones committed since.
    loaded = set(loaded_before)

    def flush() -> None:
        for status, item in _commit_batch(pending, source, context):
            counts[status] += 1
            if status == "loaded":
                loaded.add(item.sha)
                rows["read"] += item.parsed.rows_read
                rows["accepted"] += item.parsed.rows_accepted
                rows["quarantined"] += item.parsed.quarantine.height
                affected.update(item.parsed.affected_days)
        pending.clear()

    met: set[str] = set()

    def looks_duplicate(sha: str) -> bool:
        # Decided again, exactly, when the file's turn comes; this only spares parsing it.
        known = sha in loaded_before or sha in met
        met.add(sha)
        return known

    ahead_rows = 0 if source in PARSES_WAREHOUSE_STATE else BATCH_ROWS
    # The reader thread gets a connection of its own; on any exit it is stopped before that closes.
    reader_con = con.cursor()
    reader_context = LoadContext(reader_con, settings, now, context.pseudonym_key) if ahead_rows else context
    items = read_ahead(
        files,
        lambda path, payload: _parse_checked(parser, path, payload, reader_context),
        rows=lambda parsed: parsed.rows_read,
        skip_parse=looks_duplicate,
        ahead_rows=ahead_rows,
        parse_now=lambda path: _parse_checked(parser, path, path.read_bytes(), context),
    )
    with contextlib.closing(reader_con), contextlib.closing(items):
        for item in items:
            path, sha = item.path, item.sha()
            if sha in loaded or any(entry.sha == sha for entry in pending):
                _log(con, path.name, source, sha, "duplicate", None, (0, 0, 0), context.now)
                _archive(path, settings.raw_archive_dir(source) / context.now.date().isoformat(), sha)
                counts["duplicate"] += 1
                continue
            try:
                parsed = item.parsed()
            except EXPECTED_REJECTIONS as error:
                _reject(path, source, sha, error, context)
                counts["rejected"] += 1
                continue
            except OSError:
                raise
            except PARSER_FAILURES as error:
                # A parser bug met by one malformed file must not stop the other files of the source:
                # the file is rejected (and kept) with the error named as internal, so it gets fixed.
                _reject(path, source, sha, error, context, internal=True)
                counts["rejected"] += 1
                continue
            if any(write.mode == "replace" for write in parsed.writes):
                # A full snapshot replaces its table: commit it on its own, in file order.
                flush()
                pending.append(_PendingFile(path, sha, parsed))
                flush()
                continue
            pending.append(_PendingFile(path, sha, parsed))
            if sum(entry.parsed.rows_read for entry in pending) >= BATCH_ROWS:
                flush()
    flush()
    return IngestSummary(
        source=source,
        files_seen=len(files),
        files_loaded=counts["loaded"],
        files_duplicate=counts["duplicate"],
        files_rejected=counts["rejected"],
        rows_read=rows["read"],
        rows_accepted=rows["accepted"],
        rows_quarantined=rows["quarantined"],
        affected_days=frozenset(affected),
    )


def _parse_checked(parser: SourceParser, path: Path, payload: bytes, context: LoadContext) -> ParsedFile:
    parsed = parser(path, decode_bytes(payload), context)
    if parsed.rows_read != parsed.rows_accepted + parsed.quarantine.height:
        raise AssertionError(
            f"row conservation broken: read {parsed.rows_read}, accepted "
            f"{parsed.rows_accepted}, quarantined {parsed.quarantine.height}"
        )
    return parsed


def _loaded_shas(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT sha256 FROM ops.load_log WHERE source = ? AND status = 'loaded'", [source]
    ).fetchall()
    return {str(row[0]) for row in rows}


def _reject(
    path: Path, source: str, sha: str, error: BaseException, context: LoadContext, *, internal: bool = False
) -> None:
    message = f"{type(error).__name__}: {error}"
    if internal:
        message = f"internal error while reading the file (please report): {message}"
    # Messages can quote a whole malformed line; the log keeps a readable, bounded prefix.
    message = redact_message(message[:MAX_ERROR_CHARS])
    _log(context.con, path.name, source, sha, "rejected", message, (0, 0, 0), context.now)
    _archive(path, context.settings.rejected_dir(source), sha)


def _merged_writes(batch: list[_PendingFile]) -> list[TableWrite]:
    """One write per table for the whole batch (later files after earlier ones)."""
    grouped: dict[tuple[str, tuple[str, ...], str], list[pl.DataFrame]] = {}
    for item in batch:
        for write in item.parsed.writes:
            grouped.setdefault((write.table, write.keys, write.mode), []).append(write.frame)
    return [
        TableWrite(table, pl.concat(frames, how="diagonal_relaxed"), keys, mode)  # type: ignore[arg-type]
        for (table, keys, mode), frames in grouped.items()
    ]


def _commit_batch(
    batch: list[_PendingFile], source: str, context: LoadContext
) -> list[tuple[LoadStatus, _PendingFile]]:
    """Write a batch in one transaction; on a database error retry its files one by one."""
    if not batch:
        return []
    con, settings = context.con, context.settings
    con.begin()
    try:
        days: set[dt.date] = set()
        for write in _merged_writes(batch):
            days |= _apply_write(con, write, context.now)
        for item in batch:
            parsed = item.parsed
            _quarantine(con, item.path.name, source, parsed.quarantine, context.now)
            _log(
                con,
                item.path.name,
                source,
                item.sha,
                "loaded",
                None,
                (parsed.rows_read, parsed.rows_accepted, parsed.quarantine.height),
                context.now,
            )
        con.commit()
    except duckdb.Error as error:
        con.rollback()
        if len(batch) > 1:
            return [outcome for item in batch for outcome in _commit_batch([item], source, context)]
        _reject(batch[0].path, source, batch[0].sha, error, context)
        return [("rejected", batch[0])]
    except BaseException:
        con.rollback()
        raise
    if len(batch) == 1:
        batch[0].parsed.affected_days |= days
    else:
        # Days are known per batch; every file of it is reported as touching them.
        for item in batch:
            item.parsed.affected_days |= days
    for item in batch:
        _archive(item.path, settings.raw_archive_dir(source) / context.now.date().isoformat(), item.sha)
    return [("loaded", item) for item in batch]


def _archive(path: Path, folder: Path, sha: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    destination = folder / f"{sha[:12]}__{path.name}"
    if destination.exists():
        # Same bytes under the same name: the archived copy already is this file.
        path.unlink()
        return
    shutil.move(str(path), str(destination))


def _log(
    con: duckdb.DuckDBPyConnection,
    file: str,
    source: str,
    sha: str,
    status: LoadStatus,
    error: str | None,
    row_counts: tuple[int, int, int],
    now: dt.datetime,
) -> None:
    con.execute(
        "INSERT INTO ops.load_log (file, source, sha256, status, error, rows_read, rows_accepted, "
        "rows_quarantined, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [file, source, sha, status, error, *row_counts, now],
    )


def _quarantine(
    con: duckdb.DuckDBPyConnection, file: str, source: str, rows: pl.DataFrame, now: dt.datetime
) -> None:
    if rows.height == 0:
        return
    frame = rows.select(
        pl.lit(file).alias("file"),
        pl.lit(source).alias("source"),
        pl.col("line").cast(pl.Int64),
        pl.col("reason"),
        pl.col("raw_record"),
        pl.lit(now).alias("quarantined_at"),
    )
    con.register(STAGE_VIEW, frame.to_arrow())
    try:
        con.execute(f"INSERT INTO ops.quarantine SELECT * FROM {STAGE_VIEW}")
    finally:
        con.unregister(STAGE_VIEW)


def _stage(
    con: duckdb.DuckDBPyConnection, write: TableWrite, now: dt.datetime, *, fingerprint: bool = False
) -> list[str]:
    """Stage a write's frame as a temp table shaped like its raw table; returns the columns.

    ``fingerprint`` fills record_hash with an md5 of the compared columns in the same statement
    (a separate UPDATE of the stage cost as much as staging it).
    """
    columns = table_columns("raw", write.table)
    frame = write.frame
    if "loaded_at" in columns:
        frame = frame.with_columns(pl.lit(now).alias("loaded_at"))
    if "record_hash" in columns and "record_hash" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("record_hash"))
    if "_line" not in frame.columns or not write.keys:
        order = None
    elif write.mode == "feedback":
        order = "updated_at DESC NULLS LAST, _line"
    else:
        order = "_line"
    con.register(STAGE_VIEW, frame.to_arrow())
    try:
        key_list = ", ".join(write.keys)
        latest = (
            f"QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY {order} DESC) = 1" if order else ""
        )
        types = _column_types(con, write.table)
        typed = {column: f"CAST({column} AS {types[column]})" for column in columns}
        if fingerprint:
            hashed = [column for column in columns if column not in UNCOMPARED_COLUMNS]
            parts = ", ".join(f"coalesce(CAST({typed[column]} AS VARCHAR), '\\N')" for column in hashed)
            typed["record_hash"] = f"md5(concat_ws(chr(31), {parts}))"
        projection = ", ".join(f"{typed[column]} AS {column}" for column in columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE_TABLE} AS SELECT {projection} FROM {STAGE_VIEW} {latest}"
        )
    finally:
        con.unregister(STAGE_VIEW)
    return columns


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = ?",
        [table],
    ).fetchall()
    return {str(name): str(data_type) for name, data_type in rows}


def _apply_write(con: duckdb.DuckDBPyConnection, write: TableWrite, now: dt.datetime) -> set[dt.date]:
    if write.mode == "replace":
        columns = _stage(con, write, now)
        con.execute(f"DELETE FROM raw.{write.table}")
        con.execute(
            f"INSERT INTO raw.{write.table} ({', '.join(columns)}) "
            f"SELECT {', '.join(columns)} FROM {STAGE_TABLE}"
        )
        return set()
    if write.mode == "feedback":
        return _merge_feedback(con, write, now)
    columns = _stage(con, write, now)
    _upsert_from_stage(con, write.table, columns, write.keys)
    return set()


def _key_match(keys: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{key} = {right}.{key}" for key in keys)


def _upsert_from_stage(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], keys: tuple[str, ...]
) -> None:
    """Update rows whose key exists with different values, then anti-join insert new keys."""
    compared = [column for column in columns if column not in keys and column not in UNCOMPARED_COLUMNS]
    updated = [column for column in columns if column not in keys]
    if compared:
        changed = " OR ".join(f"t.{column} IS DISTINCT FROM s.{column}" for column in compared)
        assignments = ", ".join(f"{column} = s.{column}" for column in updated)
        con.execute(
            f"UPDATE raw.{table} AS t SET {assignments} FROM {STAGE_TABLE} AS s "
            f"WHERE {_key_match(keys, 't', 's')} AND ({changed})"
        )
    con.execute(
        f"INSERT INTO raw.{table} ({', '.join(columns)}) SELECT {', '.join('s.' + c for c in columns)} "
        f"FROM {STAGE_TABLE} AS s WHERE NOT EXISTS "
        f"(SELECT 1 FROM raw.{table} AS t WHERE {_key_match(keys, 't', 's')})"
    )


def _merge_feedback(con: duckdb.DuckDBPyConnection, write: TableWrite, now: dt.datetime) -> set[dt.date]:
    """Insert new requests, update those with a newer version in place, append status history."""
    columns = table_columns("raw", "feedback_requests")
    every_version = write.frame.with_columns(pl.lit(now).alias("loaded_at"))
    # A known version has the same updated_at, so only history inside the batch's updated_at range
    # (or without one) can match: as constants, the bounds let the scan skip the rest of the
    # history's row groups instead of reading all of it for every batch.
    updated = every_version.get_column("updated_at")
    earliest, latest = updated.min(), updated.max()
    con.register(STAGE_VIEW, every_version.to_arrow())
    try:
        con.execute(
            "INSERT INTO raw.feedback_status_history "
            "(request_id, status, updated_at, source_file, loaded_at) "
            "SELECT DISTINCT s.request_id, s.status, s.updated_at, s.source_file, s.loaded_at "
            f"FROM {STAGE_VIEW} AS s WHERE NOT EXISTS (SELECT 1 FROM raw.feedback_status_history AS h "
            "WHERE h.request_id = s.request_id AND h.status IS NOT DISTINCT FROM s.status "
            "AND h.updated_at IS NOT DISTINCT FROM s.updated_at "
            "AND (h.updated_at BETWEEN $earliest AND $latest OR h.updated_at IS NULL))",
            {"earliest": earliest, "latest": latest},
        )
    finally:
        con.unregister(STAGE_VIEW)
    _stage(con, write, now, fingerprint=True)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGES_TABLE} AS SELECT s.*, t.request_id IS NULL AS is_new, "
        "t.opened_at AS previous_opened_at "
        f"FROM {STAGE_TABLE} AS s LEFT JOIN raw.feedback_requests AS t ON t.request_id = s.request_id "
        "WHERE t.request_id IS NULL OR (s.record_hash <> t.record_hash "
        "AND coalesce(s.updated_at, s.opened_at) >= coalesce(t.updated_at, t.opened_at))"
    )
    # The update below overwrites the old opened date; the month-partitioned dbt models need it to
    # delete the request's row from the month it left (dbt_project/macros/feedback_incremental.sql).
    con.execute(
        "INSERT INTO raw.feedback_request_moves (request_id, previous_opened_at, opened_at, loaded_at) "
        f"SELECT request_id, previous_opened_at, opened_at, loaded_at FROM {CHANGES_TABLE} "
        "WHERE NOT is_new AND CAST(previous_opened_at AS DATE) IS DISTINCT FROM CAST(opened_at AS DATE)"
    )
    assignments = ", ".join(f"{column} = c.{column}" for column in columns if column != "request_id")
    con.execute(
        f"UPDATE raw.feedback_requests AS t SET {assignments} FROM {CHANGES_TABLE} AS c "
        "WHERE t.request_id = c.request_id AND NOT c.is_new"
    )
    con.execute(
        f"INSERT INTO raw.feedback_requests ({', '.join(columns)}) "
        f"SELECT {', '.join(columns)} FROM {CHANGES_TABLE} WHERE is_new"
    )
    days = con.execute(
        f"SELECT DISTINCT CAST(opened_at AS DATE) FROM {CHANGES_TABLE} WHERE opened_at IS NOT NULL "
        f"UNION SELECT DISTINCT CAST(previous_opened_at AS DATE) FROM {CHANGES_TABLE} "
        "WHERE previous_opened_at IS NOT NULL "
        f"UNION SELECT DISTINCT CAST(updated_at AS DATE) FROM {CHANGES_TABLE} WHERE updated_at IS NOT NULL"
    ).fetchall()
    return {row[0] for row in days}
