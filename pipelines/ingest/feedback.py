"""Feedback requests (city CSV exports and Open311 GeoReport v2 JSON) -> raw.feedback_requests rows."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError, flatten_records, read_csv_text, read_json_records
from pipelines.ingest.privacy import pseudonymise, redact_text
from pipelines.ingest.profiles import FeedbackProfile
from pipelines.ingest.validation import (
    LINE,
    ParsedRows,
    implausible_date_reason,
    normalise_district_key,
    parse_timestamp,
    reason_if,
    source,
    split_rows,
    strip_timezone_offset,
    unparsed_reason,
    with_source_prefix,
    without_null_tokens,
)

TIMESTAMP_LABELS = {
    "opened_at": "opened date",
    "closed_at": "closed date",
    "first_response_at": "first response date",
    "updated_at": "updated date",
}
ACCEPTED_COLUMNS = [
    "request_id",
    "source_format",
    "source_file",
    "service_code",
    "service_name",
    "category",
    "agency",
    "district_code",
    "channel",
    "status",
    "opened_at",
    "closed_at",
    "first_response_at",
    "reopened_count",
    "fixed_confirmed",
    "description",
    "reporter_pseudonym",
    "lat",
    "lon",
    "updated_at",
]
REQUIRED_COLUMN_TARGETS = ("request_id", "opened_at")
TRUE_WORDS = ["yes", "y", "true", "1", "confirmed"]
FALSE_WORDS = ["no", "n", "false", "0", "not confirmed"]


def read_feedback_file(text: str, profile: FeedbackProfile) -> pl.DataFrame:
    """Parse delivered text into an all-string frame with ``_line``, per the profile's reader."""
    if profile.kind == "open311_json":
        frame = flatten_records(read_json_records(text))
    else:
        frame = read_csv_text(text, profile.delimiter)
    missing = [
        f"{profile.columns[target]!r} ({target})"
        for target in REQUIRED_COLUMN_TARGETS
        if profile.columns.get(target) not in frame.columns
    ]
    if missing:
        raise UnreadableFileError(
            f"required column(s) {', '.join(missing)} missing; profile {profile.name!r} "
            f"expects them, file has {frame.columns[:12]}"
        )
    return frame


def _mapped(profile: FeedbackProfile, present: set[str], target: str) -> pl.Expr:
    column = profile.columns.get(target)
    if column is None or column not in present:
        return pl.lit(None, dtype=pl.String)
    return without_null_tokens(source(column), profile.null_tokens)


def _vocabulary(expr: pl.Expr, mapping: dict[str, str], default: str | None) -> pl.Expr:
    lowered = {key.strip().lower(): value for key, value in mapping.items()}
    key = expr.str.to_lowercase()
    fallback = pl.lit(default) if default is not None else key
    mapped = key.replace_strict(lowered, default=None, return_dtype=pl.String)
    return pl.when(expr.is_null()).then(None).otherwise(pl.coalesce(mapped, fallback))


def _coordinate(expr: pl.Expr, limit: float) -> pl.Expr:
    value = expr.cast(pl.Float64, strict=False)
    return pl.when(value.abs() <= limit).then(value).otherwise(None)


def parse_feedback(
    raw: pl.LazyFrame,
    profile: FeedbackProfile,
    district_aliases: pl.LazyFrame | None,
    *,
    source_file: str,
    pseudonym_key: bytes,
    now: dt.datetime,
) -> ParsedRows:
    """Map, type, normalise, redact and validate requests; invalid rows get a quarantine reason.

    ``district_aliases`` (alias_normalised, district_code) is the reference; None skips the check.
    """
    raw_columns = [name for name in raw.collect_schema().names() if name != LINE]
    present = set(raw_columns)
    prefixed = with_source_prefix(raw)

    def mapped(target: str) -> pl.Expr:
        return _mapped(profile, present, target)

    text_targets = [
        "request_id",
        "service_code",
        "service_name",
        "category",
        "agency",
        "status",
        "channel",
        "description",
        "reopened_count",
        "fixed_confirmed",
        "lat",
        "lon",
        "district",
    ]
    timestamp_raw = {
        target: strip_timezone_offset(mapped(target)) if profile.strip_timezone_offset else mapped(target)
        for target in TIMESTAMP_LABELS
    }
    if profile.point_column and profile.point_column in present:
        point = without_null_tokens(source(profile.point_column), profile.null_tokens)
        pattern = r"^\(?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)?$"
        lat_raw, lon_raw = point.str.extract(pattern, 1), point.str.extract(pattern, 2)
    else:
        lat_raw, lon_raw = mapped("lat"), mapped("lon")
    reporter_columns = [
        name for name in (*profile.reporter_id_columns, *profile.reporter_name_columns) if name in present
    ]
    reporter = (
        pl.coalesce([without_null_tokens(source(name), profile.null_tokens) for name in reporter_columns])
        if reporter_columns
        else pl.lit(None, dtype=pl.String)
    )
    stage_one = prefixed.with_columns(
        *[mapped(target).alias(f"_txt_{target}") for target in text_targets],
        *[expr.alias(f"_txt_{target}") for target, expr in timestamp_raw.items()],
        pl.col(LINE),
        _coordinate(lat_raw, 90).alias("lat_checked"),
        _coordinate(lon_raw, 180).alias("lon_checked"),
        pseudonymise(reporter, pseudonym_key).alias("reporter_pseudonym"),
    )
    district_key = normalise_district_key(pl.col("_txt_district"))
    for pattern in profile.district.missing_patterns:
        district_key = pl.when(district_key.str.contains(pattern)).then(None).otherwise(district_key)
    stage_one = stage_one.with_columns(district_key.alias("_district_key"))
    if district_aliases is not None:
        reference = district_aliases.select("alias_normalised", "district_code").unique(
            "alias_normalised", keep="first"
        )
        stage_one = stage_one.join(
            reference, left_on="_district_key", right_on="alias_normalised", how="left", maintain_order="left"
        )
    else:
        stage_one = stage_one.with_columns(pl.lit(None, dtype=pl.String).alias("district_code"))

    parsed_timestamps = {
        target: parse_timestamp(pl.col(f"_txt_{target}"), profile.formats_for(target)).alias(target)
        for target in TIMESTAMP_LABELS
    }
    lat_zero_pair = (pl.col("lat_checked") == 0) & (pl.col("lon_checked") == 0)
    fixed_text = pl.col("_txt_fixed_confirmed").str.to_lowercase()
    free_text = {target: redact_text(pl.col(f"_txt_{target}")) for target in profile.free_text}
    typed = stage_one.with_columns(
        *parsed_timestamps.values(),
        pl.col("_txt_request_id").alias("request_id"),
        # Exports without service codes (NYC, SF) identify the service type by its name.
        pl.coalesce("_txt_service_code", "_txt_service_name").alias("service_code")
        if "service_code" not in profile.columns
        else pl.col("_txt_service_code").alias("service_code"),
        pl.col("_txt_service_name").alias("service_name"),
        pl.col("_txt_category").alias("category"),
        pl.col("_txt_agency").alias("agency"),
        _vocabulary(pl.col("_txt_channel"), profile.channel_map, profile.channel_default).alias("channel"),
        _vocabulary(pl.col("_txt_status"), profile.status_map, profile.status_default).alias("status"),
        pl.col("_txt_reopened_count")
        .cast(pl.Float64, strict=False)
        .cast(pl.Int32, strict=False)
        .alias("reopened_count"),
        pl.when(fixed_text.is_in(TRUE_WORDS))
        .then(True)
        .when(fixed_text.is_in(FALSE_WORDS))
        .then(False)
        .otherwise(None)
        .alias("fixed_confirmed"),
        free_text.get("description", pl.lit(None, dtype=pl.String)).alias("description"),
        pl.when(lat_zero_pair).then(None).otherwise(pl.col("lat_checked")).alias("lat"),
        pl.when(lat_zero_pair).then(None).otherwise(pl.col("lon_checked")).alias("lon"),
        pl.lit(profile.source_format).alias("source_format"),
        pl.lit(source_file).alias("source_file"),
    ).with_columns(
        pl.coalesce(
            pl.col("updated_at"),
            pl.max_horizontal("opened_at", "closed_at", "first_response_at"),
        ).alias("updated_at")
    )

    reasons = [
        *[
            unparsed_reason(label, pl.col(f"_txt_{target}"), pl.col(target), profile.formats_for(target))
            for target, label in TIMESTAMP_LABELS.items()
        ],
        reason_if(
            pl.col("request_id").is_null(),
            f"required request id (column {profile.columns.get('request_id')!r}) is empty",
        ),
        reason_if(
            pl.col("_txt_opened_at").is_null(),
            f"required opened date (column {profile.columns.get('opened_at')!r}) is empty",
        ),
        # Every indicator is computed per service type, so a request without one cannot count.
        reason_if(
            pl.col("service_code").is_null(),
            "required service code (column "
            f"{profile.columns.get('service_code') or profile.columns.get('service_name')!r}) is empty",
        ),
        reason_if(
            pl.col("closed_at") < pl.col("opened_at"),
            pl.format("closed date {} is before opened date {}", pl.col("closed_at"), pl.col("opened_at")),
        ),
        *[
            reason_if(
                pl.col(target) > pl.lit(now),
                pl.format(
                    "{} {} is in the future (loaded at {})",
                    pl.lit(label),
                    pl.col(target),
                    pl.lit(now.isoformat(" ", "seconds")),
                ),
            )
            for target, label in TIMESTAMP_LABELS.items()
        ],
        *[implausible_date_reason(label, pl.col(target)) for target, label in TIMESTAMP_LABELS.items()],
        reason_if(
            pl.col("_txt_reopened_count").is_not_null() & pl.col("reopened_count").is_null(),
            pl.format("reopened count '{}' is not a whole number", pl.col("_txt_reopened_count")),
        ),
    ]
    if district_aliases is not None:
        reasons.append(
            reason_if(
                pl.col("_district_key").is_not_null() & pl.col("district_code").is_null(),
                pl.format(
                    "unknown district '{}' (normalised '{}') is not in raw.district_aliases",
                    pl.col("_txt_district"),
                    pl.col("_district_key"),
                ),
            )
        )
    return split_rows(
        typed,
        reasons,
        [*ACCEPTED_COLUMNS, LINE],
        raw_columns,
        [name for name in profile.pii_columns if name in present],
    )


__all__ = ["ACCEPTED_COLUMNS", "parse_feedback", "read_feedback_file"]
