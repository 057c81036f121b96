"""Shared vectorised building blocks for validation.

Null tokens, multi-format timestamps, district keys, quarantine reasons, redacted raw records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from pipelines.ingest.privacy import redact_text

LINE = "_line"
SRC = "src:"  # prefix that keeps original values beside parsed columns of the same name
# No source in scope holds records from before 1990; earlier values are placeholders (epoch 0,
# 0001-01-01, year -1) that break date spines and pandas conversions downstream. Planned dates
# (action due dates) may lie ahead, but not past 2100.
EARLIEST_PLAUSIBLE = dt.date(1990, 1, 1)
LATEST_PLAUSIBLE = dt.date(2100, 1, 1)
NULL_VALUE_REASON = "invalid row: a value this check quotes is empty"
TIMESTAMP = pl.Datetime("us")
# Values per column that decide which timestamp formats every value is tried with.
TIMESTAMP_SAMPLE_VALUES = 8


@dataclass(frozen=True)
class ParsedRows:
    """A file's rows split into accepted (contract-shaped) and quarantined (line, reason, raw_record)."""

    accepted: pl.LazyFrame
    quarantined: pl.LazyFrame


def source(column: str) -> pl.Expr:
    """The original value of a file column (kept under a prefixed name)."""
    return pl.col(SRC + column)


def with_source_prefix(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Prefix every file column so parsed contract columns can reuse the same names."""
    return frame.rename({name: SRC + name for name in frame.collect_schema().names() if name != LINE})


def without_null_tokens(expr: pl.Expr, tokens: list[str]) -> pl.Expr:
    """Trim a string and turn null tokens (case-insensitive) into a real null."""
    lowered = [token.strip().lower() for token in tokens]
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed.str.to_lowercase().is_in(lowered)).then(None).otherwise(trimmed)


def parse_timestamp(expr: pl.Expr, formats: list[str]) -> pl.Expr:
    """The first of several strptime formats that parses; null when none does.

    The values of ``parse_timestamp_every_format`` (the reference), found faster: a file writes a
    column in one format in practice, but the reference parses every value with every format the
    profile allows (15-20 % of a feedback file's parse time).
    """
    chosen = tuple(formats)
    if not chosen:
        return parse_timestamp_every_format(expr, chosen)
    return expr.map_batches(lambda text: _parse_timestamp_column(text, chosen), return_dtype=TIMESTAMP)


def parse_timestamp_every_format(expr: pl.Expr, formats: tuple[str, ...] | list[str]) -> pl.Expr:
    """Every value parsed with every format; the first that parses wins."""
    return pl.coalesce([expr.str.strptime(TIMESTAMP, fmt, strict=False) for fmt in formats])


def _parse_timestamp_column(text: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """``parse_timestamp_every_format`` on one column, trying as few formats as it can.

    strptime is lenient (``%Y-%m-%d %H:%M:%S %Z`` parses ``2024-01-01 10:00:00``), so the format a
    value "really" has cannot be told apart from an earlier one that also parses it. The formats
    are therefore tried in order up to the last one the first few values need: a value that those
    parse gets what the reference's coalesce gives it, as the reference would never look further;
    only values still unparsed (a typo, a second format) go on to the remaining formats.
    """
    frame = text.rename("text").to_frame()
    sample = frame.drop_nulls().head(TIMESTAMP_SAMPLE_VALUES)
    parses = sample.select(
        parse_timestamp_every_format(pl.col("text"), [fmt]).is_not_null().alias(str(index))
        for index, fmt in enumerate(formats)
    )
    # A sampled value that no format parses says nothing about the file's format.
    needed = [row.index(True) + 1 for row in parses.iter_rows() if True in row]
    used = max(needed, default=len(formats))
    parsed = frame.select(parse_timestamp_every_format(pl.col("text"), formats[:used])).to_series()
    unparsed = (parsed.is_null() & text.is_not_null()).arg_true()
    if used < len(formats) and len(unparsed):
        retried = frame[unparsed].select(parse_timestamp_every_format(pl.col("text"), formats[used:]))
        parsed = parsed.scatter(unparsed, retried.to_series())
    return parsed.rename(text.name)


def strip_timezone_offset(expr: pl.Expr) -> pl.Expr:
    """Drop a trailing ``Z`` or ``±hh:mm`` so ISO timestamps become naive local time."""
    return expr.str.replace(r"(?:Z|[+-]\d{2}:?\d{2})$", "")


def normalise_district_key(expr: pl.Expr) -> pl.Expr:
    """Case-, padding- and prefix-insensitive key: 'Ward 01', ' 1', '01' all become '1'."""
    return (
        expr.cast(pl.String)
        .str.to_lowercase()
        .str.replace_all(r"[\s_]+", " ")
        .str.strip_chars()
        .str.replace(r"^(?:ward|district|dist\.?|supervisor district|community board|cd)\s*", "")
        .str.replace_all(r"\b0+(\d)", "$1")
        .str.strip_chars()
    )


@dataclass(frozen=True)
class Reason:
    """A check: rows where ``condition`` holds are quarantined with ``message``.

    The message is an expression that ``split_rows`` builds only for the quarantined rows: almost
    every row passes, so formatting messages (timestamps to text) for all rows is wasted work.
    A null condition (a check on an empty value) does not hold.
    """

    condition: pl.Expr
    message: pl.Expr


def reason_if(condition: pl.Expr, message: pl.Expr | str) -> Reason:
    """A quarantine reason for the rows where the condition holds."""
    return Reason(condition, pl.lit(message) if isinstance(message, str) else message)


def failing(reasons: list[Reason]) -> pl.Expr:
    """True for a row that at least one reason applies to, else False (never null)."""
    if not reasons:
        return pl.lit(False)
    return pl.any_horizontal([reason.condition.fill_null(False) for reason in reasons])


def _reason_text(reasons: list[Reason]) -> pl.Expr:
    """All reasons that apply to a row, in order, joined with '; '."""
    if not reasons:
        return pl.lit(None, dtype=pl.String)
    # pl.format yields null when a quoted value is null, and the row must still say why it failed.
    texts = [
        pl.when(reason.condition).then(reason.message.fill_null(pl.lit(NULL_VALUE_REASON)))
        for reason in reasons
    ]
    return pl.concat_str(texts, separator="; ", ignore_nulls=True)


def unparsed_reason(label: str, raw: pl.Expr, parsed: pl.Expr, formats: list[str]) -> Reason:
    """Reason for a timestamp value that none of the formats parse."""
    message = pl.format(
        "{} '{}' does not match any of the profile's formats {}",
        pl.lit(label),
        raw,
        pl.lit(", ".join(formats)),
    )
    return reason_if(raw.is_not_null() & parsed.is_null(), message)


def redacted_raw_record(columns: list[str], pii_columns: list[str]) -> pl.Expr:
    """The original record as JSON, free text redacted and personal identifier fields masked."""
    fields = []
    for column in columns:
        if column in pii_columns:
            value = pl.when(source(column).is_null()).then(None).otherwise(pl.lit("[REDACTED]"))
        else:
            value = redact_text(source(column).cast(pl.String))
        fields.append(value.alias(column))
    return pl.struct(fields).struct.json_encode().alias("raw_record")


def split_rows(
    typed: pl.LazyFrame,
    reasons: list[Reason],
    accepted_columns: list[pl.Expr | str],
    raw_columns: list[str],
    pii_columns: list[str],
) -> ParsedRows:
    """Split typed rows into accepted (no reason applies) and quarantined lazy frames.

    Every row lands in exactly one of the two; reason texts are built for quarantined rows only.
    """
    failed = failing(reasons)
    accepted = typed.filter(~failed).select(accepted_columns)
    quarantined = typed.filter(failed).select(
        pl.col(LINE).alias("line"),
        redact_text(_reason_text(reasons)).alias("reason"),
        redacted_raw_record(raw_columns, pii_columns),
    )
    return ParsedRows(accepted=accepted, quarantined=quarantined)


def implausible_date_reason(
    label: str, value: pl.Expr, latest: dt.date | dt.datetime = LATEST_PLAUSIBLE
) -> Reason:
    """Reason for a parsed date or timestamp outside [EARLIEST_PLAUSIBLE, latest]."""
    too_early = value.cast(pl.Date) < pl.lit(EARLIEST_PLAUSIBLE)
    return Reason(
        too_early | (value > pl.lit(latest)),
        pl.when(too_early)
        .then(
            pl.format(
                "{} {} is before {}: a placeholder, not a real date",
                pl.lit(label),
                value.cast(pl.String),
                pl.lit(EARLIEST_PLAUSIBLE.isoformat()),
            )
        )
        .otherwise(pl.format("{} {} is after {}", pl.lit(label), value.cast(pl.String), pl.lit(str(latest)))),
    )
