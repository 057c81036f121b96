"""The reference source: districts (+ aliases), population, services and district boundaries.

Reference files are complete snapshots, so each accepted file replaces its tables. A snapshot that
would drop keys still in use (a truncated export) is refused and the current table kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError, load_json, read_csv_text
from pipelines.ingest.loader import LoadContext, ParsedFile, TableWrite
from pipelines.ingest.typed_csv import ColumnSpec, TableSpec, parse_typed_table
from pipelines.ingest.validation import LINE, normalise_district_key

DISTRICTS = TableSpec(
    (
        ColumnSpec("district_code", required=True),
        ColumnSpec("district_name"),
        ColumnSpec("aliases"),
        ColumnSpec("digital_access_rate", "float", minimum=0, maximum=1),
    )
)
POPULATION = TableSpec(
    (
        ColumnSpec("district_code", required=True),
        ColumnSpec("age_band", required=True, allowed=("18-34", "35-54", "55-74", "75+")),
        ColumnSpec("sex", required=True, allowed=("F", "M")),
        ColumnSpec("population", "int", required=True, minimum=0),
    )
)
SERVICES = TableSpec(
    (
        ColumnSpec("service_code", required=True),
        ColumnSpec("service_name"),
        ColumnSpec("category"),
        ColumnSpec("agency"),
        ColumnSpec("sla_days", "float", minimum=0),
    )
)
# Per replaced table: its key column, and the keys that must survive a replace. Only keys in use
# count (referenced by loaded facts, or still a district/service), so a first load, a correction of
# unused rows and the fuzz corpus's throw-away snapshots are not mistaken for truncation.
KEYS_IN_USE: dict[str, tuple[str, str]] = {
    "districts": (
        "district_code",
        "SELECT district_code FROM raw.feedback_requests "
        "UNION SELECT district_code FROM raw.survey_respondents",
    ),
    "population": (
        "district_code",
        "SELECT district_code FROM raw.population "
        "WHERE district_code IN (SELECT district_code FROM raw.districts)",
    ),
    "district_boundaries": (
        "district_code",
        "SELECT district_code FROM raw.district_boundaries "
        "WHERE district_code IN (SELECT district_code FROM raw.districts)",
    ),
    "services": (
        "service_code",
        "SELECT service_code FROM raw.services "
        "WHERE service_code IN (SELECT service_code FROM raw.feedback_requests)",
    ),
}
MAX_LISTED_KEYS = 10


class TruncatedSnapshotError(ValueError):
    """A reference snapshot lacks keys that the warehouse still uses; the file is rejected."""


CSV_TABLES = {
    "districts.csv": ("districts", DISTRICTS),
    "population.csv": ("population", POPULATION),
    "services.csv": ("services", SERVICES),
}


def district_aliases(districts: pl.LazyFrame) -> pl.LazyFrame:
    """Every normalised spelling (code, name, listed aliases) -> district_code, one row per alias."""
    spellings = districts.select(
        "district_code",
        pl.concat_list(
            pl.col("district_code"),
            pl.col("district_name"),
            pl.col("aliases").fill_null("").str.split("|"),
        ).alias("spelling"),
    ).explode("spelling")
    return (
        spellings.with_columns(normalise_district_key(pl.col("spelling")).alias("alias_normalised"))
        .filter(pl.col("alias_normalised").is_not_null() & (pl.col("alias_normalised") != ""))
        .unique(["alias_normalised"], keep="first", maintain_order=True)
        .select("alias_normalised", "district_code")
    )


def _table_name(path: Path) -> str:
    for suffix, (table, _) in CSV_TABLES.items():
        if path.name.endswith(suffix):
            return table
    if path.name.endswith(".geojson"):
        return "district_boundaries"
    raise UnreadableFileError(
        f"unknown reference file {path.name!r}: expected districts.csv, population.csv, "
        "services.csv or districts.geojson"
    )


def refuse_truncated_snapshot(table: str, accepted: pl.DataFrame, context: LoadContext) -> None:
    """Raise TruncatedSnapshotError if replacing ``table`` by ``accepted`` drops keys in use."""
    if context.settings.allow_reference_shrink:
        return
    key, in_use_sql = KEYS_IN_USE[table]
    kept = accepted.select(pl.col(key).cast(pl.String)).unique()
    context.con.register("reference_snapshot_keys", kept.to_arrow())
    try:
        lost = [
            str(row[0])
            for row in context.con.execute(
                f"SELECT DISTINCT k FROM ({in_use_sql}) AS used(k) WHERE k IS NOT NULL "
                f"AND k NOT IN (SELECT {key} FROM reference_snapshot_keys) ORDER BY k"
            ).fetchall()
        ]
    finally:
        context.con.unregister("reference_snapshot_keys")
    if lost:
        listed = ", ".join(lost[:MAX_LISTED_KEYS]) + (", ..." if len(lost) > MAX_LISTED_KEYS else "")
        raise TruncatedSnapshotError(
            f"this {table} snapshot lacks {len(lost)} {key} value(s) the warehouse still uses "
            f"({listed}); it looks truncated, so the current table is kept. If they were really "
            "retired, load it with CIVICLOOP_ALLOW_REFERENCE_SHRINK=true."
        )


def parse_reference_file(path: Path, text: str, context: LoadContext) -> ParsedFile:
    """Parse one reference file into replace-writes of its raw tables."""
    table = _table_name(path)
    if table == "district_boundaries":
        boundaries = _parse_boundaries(text)
        refuse_truncated_snapshot(table, boundaries.writes[0].frame, context)
        return boundaries
    spec = next(spec for name, spec in CSV_TABLES.values() if name == table)
    frame = read_csv_text(text)
    parsed = parse_typed_table(frame, spec, table)
    accepted, quarantined = pl.collect_all([parsed.accepted, parsed.quarantined])
    refuse_truncated_snapshot(table, accepted, context)
    writes = [
        TableWrite(table, accepted.drop("aliases") if table == "districts" else accepted, (), "replace")
    ]
    if table == "districts":
        writes.append(
            TableWrite("district_aliases", district_aliases(accepted.lazy()).collect(), (), "replace")
        )
    return ParsedFile(frame.height, accepted.height, writes, quarantined)


def _feature_problem(feature: object) -> tuple[str | None, dict[str, object]]:
    """(why a GeoJSON feature cannot be used or None, its properties as far as they exist)."""
    if not isinstance(feature, dict):
        return f"feature is a {type(feature).__name__}, not an object", {}
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        return "feature has no properties object", {}
    code, geometry = properties.get("district_code"), feature.get("geometry")
    if not code or isinstance(code, (dict, list)):
        return "feature has no properties.district_code", properties
    if not isinstance(geometry, dict) or not geometry:
        return "feature has no geometry", properties
    return None, properties


def _parse_boundaries(text: str) -> ParsedFile:
    document = load_json(text, "GeoJSON")
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise UnreadableFileError("GeoJSON is not a FeatureCollection with features")
    accepted_rows, quarantined_rows = [], []
    for index, feature in enumerate(features, 1):
        reason, properties = _feature_problem(feature)
        if reason is None:
            code, geometry = properties["district_code"], feature["geometry"]
            accepted_rows.append(
                {"district_code": str(code), "geometry_json": json.dumps(geometry), LINE: index}
            )
        else:
            quarantined_rows.append(
                {
                    "line": index,
                    "reason": reason,
                    # Only the properties are kept: a broken geometry can be megabytes of numbers.
                    "raw_record": json.dumps({"properties": properties}, default=str),
                }
            )
    accepted = pl.DataFrame(
        accepted_rows, schema={"district_code": pl.String, "geometry_json": pl.String, LINE: pl.Int64}
    )
    quarantined = pl.DataFrame(
        quarantined_rows, schema={"line": pl.Int64, "reason": pl.String, "raw_record": pl.String}
    )
    return ParsedFile(
        len(features),
        accepted.height,
        [TableWrite("district_boundaries", accepted, (), "replace")],
        quarantined,
    )
