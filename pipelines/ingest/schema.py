"""DDL for the raw.* and ops.* tables of docs/contracts.md, created idempotently."""

from __future__ import annotations

import duckdb

RAW_TABLES: dict[str, str] = {
    "districts": "district_code VARCHAR, district_name VARCHAR, digital_access_rate DOUBLE",
    "district_aliases": "alias_normalised VARCHAR, district_code VARCHAR",
    "population": "district_code VARCHAR, age_band VARCHAR, sex VARCHAR, population BIGINT",
    "services": (
        "service_code VARCHAR, service_name VARCHAR, category VARCHAR, agency VARCHAR, sla_days DOUBLE"
    ),
    "district_boundaries": "district_code VARCHAR, geometry_json VARCHAR",
    "feedback_requests": (
        "request_id VARCHAR, source_format VARCHAR, source_file VARCHAR, service_code VARCHAR, "
        "service_name VARCHAR, category VARCHAR, agency VARCHAR, district_code VARCHAR, "
        "channel VARCHAR, status VARCHAR, opened_at TIMESTAMP, closed_at TIMESTAMP, "
        "first_response_at TIMESTAMP, reopened_count INTEGER, fixed_confirmed BOOLEAN, "
        "description VARCHAR, reporter_pseudonym VARCHAR, lat DOUBLE, lon DOUBLE, "
        "updated_at TIMESTAMP, record_hash VARCHAR, loaded_at TIMESTAMP"
    ),
    "feedback_status_history": (
        "request_id VARCHAR, status VARCHAR, updated_at TIMESTAMP, source_file VARCHAR, loaded_at TIMESTAMP"
    ),
    "feedback_request_moves": (
        "request_id VARCHAR, previous_opened_at TIMESTAMP, opened_at TIMESTAMP, loaded_at TIMESTAMP"
    ),
    "feedback_text_scores": (
        "request_id VARCHAR, sentiment DOUBLE, topic_id INTEGER, topic_label VARCHAR, scored_at TIMESTAMP"
    ),
    "kpi_observations": (
        "agency VARCHAR, kpi_id VARCHAR, kpi_name VARCHAR, period_month DATE, actual DOUBLE, "
        "target DOUBLE, desired_change VARCHAR, unit VARCHAR, source_file VARCHAR"
    ),
    "survey_respondents": (
        "respondent_id VARCHAR, wave VARCHAR, period_start DATE, district_code VARCHAR, "
        "age_band VARCHAR, sex VARCHAR, digital_access BOOLEAN, source_file VARCHAR"
    ),
    "survey_answers": (
        "respondent_id VARCHAR, wave VARCHAR, question_id VARCHAR, consideration INTEGER, "
        "value DOUBLE, scale_min DOUBLE, scale_max DOUBLE, agree BOOLEAN"
    ),
    "survey_questions": (
        "wave VARCHAR, period_start DATE, question_id VARCHAR, question_text VARCHAR, "
        "consideration INTEGER, scale_min DOUBLE, scale_max DOUBLE, top_box DOUBLE, "
        "indicator_id VARCHAR, codebook VARCHAR, source_file VARCHAR"
    ),
    "survey_weights": (
        "respondent_id VARCHAR, wave VARCHAR, base_weight DOUBLE, raked_weight DOUBLE, trimmed BOOLEAN"
    ),
    "review_decisions": (
        "entry_id VARCHAR, recorded_at TIMESTAMP, recorded_by VARCHAR, review_quarter VARCHAR, "
        "indicator_id VARCHAR, decision VARCHAR, new_target DOUBLE, effective_from DATE, "
        "action_text VARCHAR, action_owner VARCHAR, action_due DATE, action_status VARCHAR, "
        "action_completed_on DATE, rationale VARCHAR, corrects_entry_id VARCHAR"
    ),
}

OPS_TABLES: dict[str, str] = {
    "load_log": (
        "file VARCHAR, source VARCHAR, sha256 VARCHAR, status VARCHAR, error VARCHAR, "
        "rows_read BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP"
    ),
    "quarantine": (
        "file VARCHAR, source VARCHAR, line BIGINT, reason VARCHAR, raw_record VARCHAR, "
        "quarantined_at TIMESTAMP"
    ),
}


def ensure_warehouse_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas raw and ops and every raw.* / ops.* table of docs/contracts.md if missing.

    Idempotent: safe to call before every load.
    """
    for schema, tables in (("raw", RAW_TABLES), ("ops", OPS_TABLES)):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table, columns in tables.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({columns})")


def table_columns(schema: str, table: str) -> list[str]:
    """Column names of a contract table in declaration order."""
    spec = (RAW_TABLES if schema == "raw" else OPS_TABLES)[table]
    return [part.strip().split(" ")[0] for part in spec.split(",")]
