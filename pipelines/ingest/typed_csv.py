"""Declarative typing of simple CSV tables (reference data, review history).

Column -> type, required flag and allowed values; rows that do not fit are quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError
from pipelines.ingest.privacy import redact_text
from pipelines.ingest.validation import (
    LINE,
    ParsedRows,
    Reason,
    implausible_date_reason,
    parse_timestamp,
    reason_if,
    source,
    split_rows,
    with_source_prefix,
    without_null_tokens,
)

ColumnType = Literal["string", "float", "int", "date", "timestamp", "free_text"]
DEFAULT_NULLS = ["", "NA", "N/A", "null", "NULL", "None"]
ISO_TIMESTAMP_FORMATS = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a simple table."""

    name: str
    type: ColumnType = "string"
    required: bool = False
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """A simple CSV table: its columns, in the order of the raw table."""

    columns: tuple[ColumnSpec, ...]
    null_tokens: tuple[str, ...] = tuple(DEFAULT_NULLS)
    pii_columns: tuple[str, ...] = field(default=())


PARSERS = {
    "float": lambda expr: expr.cast(pl.Float64, strict=False),
    "int": lambda expr: expr.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False),
    "date": lambda expr: expr.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    "timestamp": lambda expr: parse_timestamp(expr, ISO_TIMESTAMP_FORMATS),
    "string": lambda expr: expr,
    "free_text": redact_text,
}
TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "date": "a YYYY-MM-DD date",
    "timestamp": "an ISO timestamp",
}


def parse_typed_table(frame: pl.DataFrame, spec: TableSpec, table: str) -> ParsedRows:
    """Type, check and split a string frame (with ``_line``) by a table spec."""
    missing = [column.name for column in spec.columns if column.required and column.name not in frame.columns]
    if missing:
        raise UnreadableFileError(f"{table}: required column(s) {missing} missing; file has {frame.columns}")
    raw_columns = [name for name in frame.columns if name != LINE]
    prefixed = with_source_prefix(frame.lazy())
    text = {
        column.name: (
            without_null_tokens(source(column.name), list(spec.null_tokens))
            if column.name in frame.columns
            else pl.lit(None, dtype=pl.String)
        )
        for column in spec.columns
    }
    typed = prefixed.with_columns(
        *[text[column.name].alias(f"_txt_{column.name}") for column in spec.columns],
        *[PARSERS[column.type](text[column.name]).alias(column.name) for column in spec.columns],
    )
    reasons: list[Reason] = []
    for column in spec.columns:
        raw_text, value = pl.col(f"_txt_{column.name}"), pl.col(column.name)
        if column.required:
            reasons.append(reason_if(raw_text.is_null(), f"required {column.name} is empty"))
        if column.type in TYPE_WORDS:
            reasons.append(
                reason_if(
                    raw_text.is_not_null() & value.is_null(),
                    pl.format(
                        "{} '{}' is not {}", pl.lit(column.name), raw_text, pl.lit(TYPE_WORDS[column.type])
                    ),
                )
            )
        if column.type in ("date", "timestamp"):
            reasons.append(implausible_date_reason(column.name, value))
        if column.allowed:
            reasons.append(
                reason_if(
                    value.is_not_null() & ~value.is_in(list(column.allowed)),
                    pl.format(
                        "{} '{}' is not one of {}",
                        pl.lit(column.name),
                        value,
                        pl.lit(", ".join(column.allowed)),
                    ),
                )
            )
        if column.minimum is not None or column.maximum is not None:
            low = column.minimum if column.minimum is not None else float("-inf")
            high = column.maximum if column.maximum is not None else float("inf")
            reasons.append(
                reason_if(
                    value.is_not_null() & ((value < low) | (value > high)),
                    pl.format(
                        "{} {} is outside {}..{}", pl.lit(column.name), value, pl.lit(low), pl.lit(high)
                    ),
                )
            )
    return split_rows(
        typed,
        reasons,
        [*(column.name for column in spec.columns), LINE],
        raw_columns,
        [name for name in spec.pii_columns if name in frame.columns],
    )
