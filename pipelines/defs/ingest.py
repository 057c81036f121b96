"""Ingest assets: one multi-asset per inbox source, each producing the raw tables it writes.

Files are read from ``<data>/inbox/<source>/``, checked, redacted and pseudonymised with polars,
and loaded into the working DuckDB; every file gets an ``ops.load_log`` row and every rejected row
an ``ops.quarantine`` row.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.ingest import IngestSummary, ensure_warehouse_schema, ingest_source
from pipelines.resources import CivicloopSettingsResource
from pipelines.review_register import sync_register


@dataclass(frozen=True)
class RawTable:
    """A raw table an ingest source writes, with the grain its asset documents."""

    name: str
    grain: str


INGEST_SOURCES: dict[str, tuple[RawTable, ...]] = {
    "reference": (
        RawTable("districts", "one row per district"),
        RawTable("district_aliases", "one row per normalised district alias"),
        RawTable("population", "one row per district x age band x sex (adult census margins)"),
        RawTable("services", "one row per service type"),
        RawTable("district_boundaries", "one row per district (GeoJSON geometry)"),
    ),
    "feedback": (
        RawTable("feedback_requests", "one row per resident service request, latest version"),
        RawTable("feedback_status_history", "one row per request status change"),
    ),
    "kpis": (RawTable("kpi_observations", "one row per agency x KPI x month"),),
    "survey": (
        RawTable("survey_respondents", "one row per respondent x wave"),
        RawTable("survey_answers", "one row per respondent x question"),
        RawTable(
            "survey_questions", "one row per wave x question x file: scale, top box, catalogue indicator"
        ),
    ),
}


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def summary_metadata(summary: IngestSummary) -> dict[str, dg.MetadataValue]:
    """The file and row counts a data engineer looks for after each ingest."""
    return {
        "files_seen": dg.MetadataValue.int(summary.files_seen),
        "files_loaded": dg.MetadataValue.int(summary.files_loaded),
        "files_duplicate": dg.MetadataValue.int(summary.files_duplicate),
        "files_rejected": dg.MetadataValue.int(summary.files_rejected),
        "rows_read": dg.MetadataValue.int(summary.rows_read),
        "rows_accepted": dg.MetadataValue.int(summary.rows_accepted),
        "rows_quarantined": dg.MetadataValue.int(summary.rows_quarantined),
    }


# Districts and their aliases must be loaded before any row that names a district is validated.
REFERENCE_KEYS = [raw_key("districts"), raw_key("district_aliases")]


def _ingest_asset(source: str, tables: tuple[RawTable, ...]) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            key=raw_key(table.name),
            deps=[] if source == "reference" else REFERENCE_KEYS,
            group_name="ingested",
            kinds={"polars", "duckdb"},
            description=f"raw.{table.name}: {table.grain}; loaded from inbox/{source}, PII-free.",
        )
        for table in tables
    ]

    @dg.multi_asset(name=f"ingest_{source}", specs=specs, can_subset=False)
    def _ingest(
        context: dg.AssetExecutionContext,
        civicloop: CivicloopSettingsResource,
        warehouse: DuckDBResource,
    ) -> Iterator[dg.MaterializeResult]:
        settings = civicloop.settings()
        with warehouse.get_connection() as con:
            ensure_warehouse_schema(con)
            summary = ingest_source(con, settings, source)
            row_counts = {
                table.name: con.execute(f'select count(*) from raw."{table.name}"').fetchone()
                for table in tables
            }
        context.log.info(
            "%s: %d files seen, %d rows accepted, %d quarantined",
            source,
            summary.files_seen,
            summary.rows_accepted,
            summary.rows_quarantined,
        )
        for table in tables:
            count = row_counts[table.name]
            yield dg.MaterializeResult(
                asset_key=raw_key(table.name),
                metadata={
                    **summary_metadata(summary),
                    "dagster/row_count": dg.MetadataValue.int(int(count[0]) if count else 0),
                },
            )

    _ingest.__doc__ = f"Load new files from inbox/{source} into {', '.join(t.name for t in tables)}."
    return _ingest


ingest_assets = [_ingest_asset(source, tables) for source, tables in INGEST_SOURCES.items()]


@dg.asset(
    key=raw_key("review_decisions"),
    deps=REFERENCE_KEYS,
    group_name="ingested",
    kinds={"sqlite", "duckdb"},
)
def review_decisions(
    context: dg.AssetExecutionContext,
    civicloop: CivicloopSettingsResource,
    warehouse: DuckDBResource,
) -> dg.MaterializeResult:
    """raw.review_decisions: one row per decision-register entry (append-only).

    Reads past reviews from inbox/reviews and the live register the review page writes, so that
    the decisions of the last review apply in this build.
    """
    settings = civicloop.settings()
    with warehouse.get_connection() as con:
        ensure_warehouse_schema(con)
        summary = ingest_source(con, settings, "reviews")
        from_register = sync_register(con, settings.decisions_path)
        count = con.execute("select count(*) from raw.review_decisions").fetchone()
    context.log.info(
        "review decisions: %d from files, %d new from the register", summary.rows_accepted, from_register
    )
    return dg.MaterializeResult(
        metadata={
            **summary_metadata(summary),
            "entries_from_register": dg.MetadataValue.int(from_register),
            "dagster/row_count": dg.MetadataValue.int(int(count[0]) if count else 0),
        }
    )


ingest_assets.append(review_decisions)
