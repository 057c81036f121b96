"""The kpis source: KPI tables mapped by a KPI profile -> raw.kpi_observations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError, read_csv_text
from pipelines.ingest.loader import LoadContext, ParsedFile, TableWrite
from pipelines.ingest.profiles import KpiProfile, match_profile, shipped_profiles
from pipelines.ingest.validation import (
    LINE,
    ParsedRows,
    implausible_date_reason,
    reason_if,
    source,
    split_rows,
    with_source_prefix,
    without_null_tokens,
)

KPI_COLUMNS = [
    "agency",
    "kpi_id",
    "kpi_name",
    "period_month",
    "actual",
    "target",
    "desired_change",
    "unit",
    "source_file",
]
KPI_KEYS = ("agency", "kpi_id", "period_month")


def _period(profile: KpiProfile, present: set[str]) -> tuple[pl.Expr, pl.Expr]:
    """(raw period text, parsed first-of-month date) per the profile's period columns."""
    if profile.period_column:
        raw = without_null_tokens(source(profile.period_column), profile.null_tokens)
        parsed = (raw + pl.lit("-01")).str.strptime(pl.Date, profile.period_format + "-%d", strict=False)
        return raw, parsed
    if profile.period_year_column and profile.period_month_column:
        year = without_null_tokens(source(profile.period_year_column), profile.null_tokens)
        month = without_null_tokens(source(profile.period_month_column), profile.null_tokens)
        raw = pl.concat_str([year, month], separator="-")
        parsed = pl.date(year.cast(pl.Int32, strict=False), month.cast(pl.Int8, strict=False), 1)
        valid_month = month.cast(pl.Int8, strict=False).is_between(1, 12)
        return raw, pl.when(valid_month).then(parsed).otherwise(None)
    raise UnreadableFileError(f"KPI profile {profile.name!r} declares no period column(s)")


def parse_kpis(
    frame: pl.DataFrame, profile: KpiProfile, source_file: str, *, now: dt.datetime | None = None
) -> ParsedRows:
    """Map, type and check KPI rows (a month after ``now``'s is in the future: quarantined)."""
    latest = (now or dt.datetime.now()).date()
    present = set(frame.columns)
    required = [profile.columns.get("kpi_id"), profile.period_column or profile.period_year_column]
    absent = [name for name in required if name is not None and name not in present]
    if absent:
        raise UnreadableFileError(f"KPI file lacks column(s) {absent} required by profile {profile.name!r}")

    def mapped(target: str) -> pl.Expr:
        column = profile.columns.get(target)
        if column is None or column not in present:
            return pl.lit(None, dtype=pl.String)
        return without_null_tokens(source(column), profile.null_tokens)

    period_raw, period = _period(profile, present)
    agency = mapped("agency")
    if profile.agency_default:
        agency = pl.coalesce(agency, pl.lit(profile.agency_default))
    change_map = {key.upper(): value for key, value in profile.desired_change_map.items()}
    typed = with_source_prefix(frame.lazy()).with_columns(
        agency.alias("agency"),
        mapped("kpi_id").alias("kpi_id"),
        mapped("kpi_name").str.replace_all(r"\s+", " ").alias("kpi_name"),
        period.alias("period_month"),
        period_raw.alias("_txt_period"),
        *[mapped(name).alias(f"_txt_{name}") for name in ("actual", "target", "desired_change")],
        *[mapped(name).cast(pl.Float64, strict=False).alias(name) for name in ("actual", "target")],
        mapped("desired_change")
        .str.to_uppercase()
        .replace_strict(change_map, default=None, return_dtype=pl.String)
        .alias("desired_change"),
        mapped("unit").alias("unit"),
        pl.lit(source_file).alias("source_file"),
    )
    reasons = [
        reason_if(pl.col("agency").is_null(), "required agency is empty"),
        reason_if(pl.col("kpi_id").is_null(), "required kpi id is empty"),
        reason_if(
            pl.col("period_month").is_null(),
            pl.format("period '{}' is not a year and month", pl.col("_txt_period").fill_null("")),
        ),
        implausible_date_reason("period", pl.col("period_month"), latest),
        *[
            reason_if(
                pl.col(f"_txt_{name}").is_not_null() & pl.col(name).is_null(),
                pl.format("{} '{}' is not a number", pl.lit(name), pl.col(f"_txt_{name}")),
            )
            for name in ("actual", "target")
        ],
        reason_if(
            pl.col("desired_change").is_null(),
            pl.format(
                "desired change '{}' is not one of {}",
                pl.col("_txt_desired_change").fill_null(""),
                pl.lit(", ".join(change_map)),
            ),
        ),
    ]
    return split_rows(
        typed, reasons, [*KPI_COLUMNS, LINE], [name for name in frame.columns if name != LINE], []
    )


def parse_kpi_file(path: Path, text: str, context: LoadContext) -> ParsedFile:
    """Parse one KPI file through the matching KPI profile."""
    profile = match_profile(path.name, shipped_profiles("kpis"))
    if not isinstance(profile, KpiProfile):
        raise UnreadableFileError(f"no KPI profile matches file name {path.name!r}")
    frame = read_csv_text(text, profile.delimiter)
    parsed = parse_kpis(frame, profile, path.name, now=context.now)
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
    return ParsedFile(
        frame.height, accepted.height, [TableWrite("kpi_observations", accepted, KPI_KEYS)], quarantined
    )
