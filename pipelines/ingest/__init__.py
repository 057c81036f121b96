"""Ingestion library: inbox files -> redacted, validated, idempotent raw.* tables in DuckDB."""

from pipelines.ingest.coverage import ProfileCoverage, profile_check
from pipelines.ingest.loader import IngestSummary, ingest_source
from pipelines.ingest.privacy import pseudonymise, redact_text
from pipelines.ingest.schema import ensure_warehouse_schema

__all__ = [
    "IngestSummary",
    "ProfileCoverage",
    "ensure_warehouse_schema",
    "ingest_source",
    "profile_check",
    "pseudonymise",
    "redact_text",
]
