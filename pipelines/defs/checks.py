"""Quality gates as Dagster asset checks.

Great Expectations suites (committed JSON in ``expectations/``) run through one wrapper; a failed
error-severity expectation fails a *blocking* check, so nothing downstream runs and the published
snapshot stays at the last good build. Warnings are recorded and shown but do not block.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import INGEST_SOURCES, raw_key
from pipelines.quality.gx_runner import SuiteOutcome, runtime_sets_from_warehouse, validate_table
from pipelines.quality.records import ensure_quality_schema, record_outcome, save_result
from pipelines.quality.volume import row_conservation_violations, volume_anomalies
from pipelines.resources import CivicloopSettingsResource

LOAD_LOG_KEY = dg.AssetKey(["ops", "load_log"])
LOAD_LOG_COLUMNS = (
    "file, source, sha256, status, error, rows_read, rows_accepted, rows_quarantined, loaded_at"
)


@dg.asset(
    key=LOAD_LOG_KEY,
    deps=[raw_key(table.name) for tables in INGEST_SOURCES.values() for table in tables]
    + [raw_key("review_decisions")],
    group_name="ingested",
    kinds={"duckdb"},
)
def load_log(warehouse: DuckDBResource) -> dg.MaterializeResult:
    """ops.load_log: one row per input file seen, loaded, found duplicate or rejected.

    Written by every ingest; materialised after them so that its checks (row conservation,
    volume anomalies) gate the rest of the build.
    """
    with warehouse.get_connection() as con:
        totals = con.execute(
            """
            select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_accepted), 0),
                   coalesce(sum(rows_quarantined), 0), count(*) filter (where status = 'rejected')
            from ops.load_log
            """
        ).fetchone()
    files, read, accepted, quarantined, rejected = totals if totals else (0, 0, 0, 0, 0)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(files)),
            "rows_read": dg.MetadataValue.int(int(read)),
            "rows_accepted": dg.MetadataValue.int(int(accepted)),
            "rows_quarantined": dg.MetadataValue.int(int(quarantined)),
            "files_rejected": dg.MetadataValue.int(int(rejected)),
        }
    )


def _load_log_frame(warehouse: DuckDBResource) -> pl.DataFrame:
    with warehouse.get_connection() as con:
        return con.sql(f"select {LOAD_LOG_COLUMNS} from ops.load_log").pl()


@dg.asset_check(asset=LOAD_LOG_KEY, blocking=True)
def row_conservation(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    """Every loaded file: rows read = rows accepted + rows quarantined. Nothing is lost."""
    violations = row_conservation_violations(_load_log_frame(warehouse))
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "summary": dg.MetadataValue.text("; ".join(v.message for v in violations) or "conserved"),
            "violations": dg.MetadataValue.json([str(v) for v in violations]),
        },
    )


@dg.asset_check(asset=LOAD_LOG_KEY)
def volume_and_quarantine_rate(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    """Warns when a file is far smaller than its usual size or its quarantine rate is high."""
    warnings = volume_anomalies(_load_log_frame(warehouse))
    return dg.AssetCheckResult(
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "summary": dg.MetadataValue.text("; ".join(w.message for w in warnings[:20]) or "normal"),
            "warnings": dg.MetadataValue.json([str(w) for w in warnings]),
        },
    )


@dg.asset_check(asset=dg.AssetKey(["marts", "source_freshness"]))
def sources_are_fresh(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    """Warns when a source has not delivered within its expected cadence (feedback daily, ...)."""
    with warehouse.get_connection() as con:
        stale = con.execute(
            """
            select source, latest_data_at, expected_cadence_days
            from marts.source_freshness where is_stale order by source
            """
        ).fetchall()
    findings = [
        f"{source}: newest data {latest}, expected every {cadence} days" for source, latest, cadence in stale
    ]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"summary": dg.MetadataValue.text("; ".join(findings) or "every source is fresh")},
    )


@dataclass(frozen=True)
class GxTarget:
    """A table checked by a committed suite after it is materialized."""

    asset_key: dg.AssetKey
    table: str
    suite: str
    needs_reference_sets: bool = False  # district codes etc. passed to the suite at run time
    # Set for tables that accumulate for years: only the newest load is checked, since older rows
    # passed this gate when they arrived and a daily increment should cost what the day costs.
    latest_batch_column: str | None = None


GX_TARGETS: Sequence[GxTarget] = (
    GxTarget(
        raw_key("feedback_requests"),
        "raw.feedback_requests",
        "raw_feedback_requests",
        needs_reference_sets=True,
        latest_batch_column="loaded_at",
    ),
    GxTarget(raw_key("kpi_observations"), "raw.kpi_observations", "raw_kpi_observations"),
    GxTarget(raw_key("survey_answers"), "raw.survey_answers", "raw_survey_answers"),
    GxTarget(raw_key("survey_weights"), "raw.survey_weights", "raw_survey_weights"),
    GxTarget(
        dg.AssetKey(["marts", "indicator_values"]),
        "marts.indicator_values",
        "marts_indicator_values",
        needs_reference_sets=True,
    ),
    GxTarget(
        dg.AssetKey(["marts", "consideration_scores"]),
        "marts.consideration_scores",
        "marts_consideration_scores",
    ),
)


def _check_result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    if not outcome.success:
        severity = dg.AssetCheckSeverity.ERROR
        passed = False
    else:
        severity = dg.AssetCheckSeverity.WARN
        passed = not outcome.warnings
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        metadata={
            "summary": dg.MetadataValue.text(outcome.summary()),
            "gx": dg.MetadataValue.json(outcome.to_metadata()),
        },
    )


def _gx_check(target: GxTarget) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=target.asset_key, name=f"gx_{target.suite}", blocking=True)
    def _check(
        context: dg.AssetCheckExecutionContext,
        civicloop: CivicloopSettingsResource,
        warehouse: DuckDBResource,
    ) -> dg.AssetCheckResult:
        build_id = context.run.run_id[:12]
        with warehouse.get_connection() as con:
            sets = runtime_sets_from_warehouse(con) if target.needs_reference_sets else None
            outcome = validate_table(
                con,
                target.table,
                target.suite,
                runtime_sets=sets,
                latest_batch_column=target.latest_batch_column,
            )
            ensure_quality_schema(con)
            record_outcome(con, build_id, target.table, outcome)
        save_result(civicloop.settings(), build_id, outcome)
        return _check_result(outcome)

    _check.__doc__ = f"Great Expectations suite expectations/{target.suite}.json on {target.table}."
    return _check


asset_checks = [
    row_conservation,
    volume_and_quarantine_rate,
    sources_are_fresh,
    *(_gx_check(target) for target in GX_TARGETS),
]
audit_assets = [load_log]
