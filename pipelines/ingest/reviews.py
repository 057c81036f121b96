"""The reviews source: review_history.csv (decision-register columns) -> raw.review_decisions."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.ingest.decoding import read_csv_text
from pipelines.ingest.loader import LoadContext, ParsedFile, TableWrite
from pipelines.ingest.typed_csv import ColumnSpec, TableSpec, parse_typed_table

DECISIONS = TableSpec(
    (
        ColumnSpec("entry_id", required=True),
        ColumnSpec("recorded_at", "timestamp", required=True),
        ColumnSpec("recorded_by"),
        ColumnSpec("review_quarter", required=True),
        ColumnSpec("indicator_id", required=True),
        ColumnSpec(
            "decision",
            required=True,
            allowed=("keep_target", "revise_target", "add_action", "retire_indicator"),
        ),
        ColumnSpec("new_target", "float"),
        ColumnSpec("effective_from", "date"),
        ColumnSpec("action_text", "free_text"),
        ColumnSpec("action_owner"),
        ColumnSpec("action_due", "date"),
        ColumnSpec("action_status", allowed=("open", "done")),
        ColumnSpec("action_completed_on", "date"),
        ColumnSpec("rationale", "free_text"),
        ColumnSpec("corrects_entry_id"),
    )
)


def parse_reviews_file(path: Path, text: str, context: LoadContext) -> ParsedFile:
    """Parse the review history; entries are keyed by entry_id (append-only register)."""
    frame = read_csv_text(text)
    parsed = parse_typed_table(frame, DECISIONS, "review_decisions")
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
    return ParsedFile(
        frame.height, accepted.height, [TableWrite("review_decisions", accepted, ("entry_id",))], quarantined
    )
