"""``civicloop profile check FILE --profile P``: how well a profile covers a file, without loading."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.decoding import decode_bytes, read_csv_text
from pipelines.ingest.feedback import TIMESTAMP_LABELS, parse_feedback, read_feedback_file
from pipelines.ingest.profiles import FeedbackProfile, KpiProfile, SurveyCodebook, resolve_profile
from pipelines.ingest.reference import district_aliases
from pipelines.ingest.validation import LINE, normalise_district_key

COVERAGE_KEY = b"profile-check-only"  # pseudonyms are computed and discarded, never shown


@dataclass(frozen=True)
class ProfileCoverage:
    """Coverage of one file by one profile."""

    file: str
    profile: str
    rows: int
    mapped_columns: dict[str, str]
    missing_columns: dict[str, str]
    unmapped_columns: list[str]
    unparsed_dates: dict[str, int]
    unknown_districts: dict[str, int] | None
    null_token_counts: dict[str, int]
    rows_quarantined: int

    def to_text(self) -> str:
        """Human-readable report for the CLI."""
        lines = [
            f"{self.file} through profile {self.profile}: {self.rows} rows, "
            f"{self.rows_quarantined} would be quarantined"
        ]
        lines.append(
            f"mapped ({len(self.mapped_columns)}): "
            + ", ".join(f"{k} <- {v!r}" for k, v in self.mapped_columns.items())
        )
        if self.missing_columns:
            lines.append(
                "profile columns absent from file: "
                + ", ".join(f"{k} <- {v!r}" for k, v in self.missing_columns.items())
            )
        lines.append(
            f"unmapped file columns ({len(self.unmapped_columns)}): "
            + ", ".join(repr(c) for c in self.unmapped_columns)
        )
        for field, count in self.unparsed_dates.items():
            lines.append(f"unparsed {field}: {count}")
        if self.unknown_districts is None:
            lines.append("districts: not checked (no reference districts given)")
        else:
            top = sorted(self.unknown_districts.items(), key=lambda item: -item[1])[:15]
            lines.append(
                f"unknown districts ({sum(self.unknown_districts.values())} rows): "
                + ", ".join(f"{k!r} x{v}" for k, v in top)
            )
        nulls = ", ".join(f"{k}: {v}" for k, v in self.null_token_counts.items() if v)
        lines.append(f"null-token cells per column: {nulls or 'none'}")
        return "\n".join(lines)


def _reference_aliases(
    con: duckdb.DuckDBPyConnection | None, districts: list[str] | None
) -> pl.LazyFrame | None:
    if districts is not None:
        return district_aliases(
            pl.LazyFrame(
                {"district_code": districts, "district_name": districts, "aliases": [None] * len(districts)},
                schema={"district_code": pl.String, "district_name": pl.String, "aliases": pl.String},
            )
        )
    if con is not None:
        return con.sql("SELECT alias_normalised, district_code FROM raw.district_aliases").pl().lazy()
    return None


def profile_check(
    path: Path,
    profile: str | Path,
    con: duckdb.DuckDBPyConnection | None = None,
    districts: list[str] | None = None,
) -> ProfileCoverage:
    """Coverage report without loading.

    Mapped/unmapped columns, rows, unparsed dates, unknown districts (needs reference districts:
    pass a duckdb connection holding raw.district_aliases, or a list of district codes),
    null-token counts. ProfileCoverage has a .to_text() for the CLI.
    """
    resolved = resolve_profile(profile)
    text = decode_bytes(Path(path).read_bytes())
    if isinstance(resolved, FeedbackProfile):
        frame = read_feedback_file(text, resolved)
        mapping = dict(resolved.columns)
        tokens = resolved.null_tokens
    else:
        frame = read_csv_text(text, resolved.delimiter)
        if isinstance(resolved, KpiProfile):
            mapping = dict(resolved.columns)
            tokens = resolved.null_tokens
        else:
            assert isinstance(resolved, SurveyCodebook)
            mapping = {question.id: question.column for question in resolved.questions}
            tokens = resolved.missing_codes
    file_columns = [c for c in frame.columns if c != LINE]
    lowered = [token.lower() for token in tokens]
    null_counts = frame.select(
        [
            pl.col(c)
            .is_null()
            .or_(pl.col(c).str.strip_chars().str.to_lowercase().is_in(lowered))
            .sum()
            .alias(c)
            for c in file_columns
        ]
    ).row(0, named=True)
    used = set(mapping.values()) | (
        {resolved.point_column, *resolved.pii_columns} if isinstance(resolved, FeedbackProfile) else set()
    )
    unparsed: dict[str, int] = {}
    unknown: dict[str, int] | None = None
    quarantined = 0
    if isinstance(resolved, FeedbackProfile):
        aliases = _reference_aliases(con, districts)
        parsed = parse_feedback(
            frame.lazy(),
            resolved,
            aliases,
            source_file=Path(path).name,
            pseudonym_key=COVERAGE_KEY,
            now=dt.datetime.now(),
        )
        reasons = parsed.quarantined.select("reason").collect()["reason"]
        quarantined = reasons.len()
        for label in TIMESTAMP_LABELS.values():
            unparsed[label] = int(reasons.str.contains(f"{label} '", literal=True).sum())
        column = resolved.columns.get("district")
        if aliases is not None and column in frame.columns:
            keys = frame.lazy().select(
                pl.col(column).alias("value"), normalise_district_key(pl.col(column)).alias("key")
            )
            unknown_frame = (
                keys.join(aliases, left_on="key", right_on="alias_normalised", how="anti")
                .filter(pl.col("key").is_not_null())
                .group_by("value")
                .len()
                .collect()
            )
            unknown = dict(zip(unknown_frame["value"].to_list(), unknown_frame["len"].to_list(), strict=True))
    return ProfileCoverage(
        file=Path(path).name,
        profile=resolved.name,
        rows=frame.height,
        mapped_columns={k: v for k, v in mapping.items() if v in frame.columns},
        missing_columns={k: v for k, v in mapping.items() if v not in frame.columns},
        unmapped_columns=[c for c in file_columns if c not in used],
        unparsed_dates=unparsed,
        unknown_districts=unknown,
        null_token_counts={k: int(v) for k, v in null_counts.items()},
        rows_quarantined=quarantined,
    )
