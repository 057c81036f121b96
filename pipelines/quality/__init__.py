"""Data-quality gates: committed GX suites, their verdicts in ops.check_results, volume checks.

``gx_runner`` imports Great Expectations lazily, so importing this package stays cheap.
"""

from __future__ import annotations

from pipelines.quality.gx_runner import (
    ExpectationOutcome,
    MissingRuntimeSetError,
    SuiteDefinitionError,
    SuiteOutcome,
    runtime_sets_from_warehouse,
    validate_frame,
    validate_table,
)
from pipelines.quality.records import ensure_quality_schema, record_outcome, save_result
from pipelines.quality.volume import (
    ConservationViolation,
    VolumeWarning,
    row_conservation_violations,
    volume_anomalies,
)

__all__ = [
    "ConservationViolation",
    "ExpectationOutcome",
    "MissingRuntimeSetError",
    "SuiteDefinitionError",
    "SuiteOutcome",
    "VolumeWarning",
    "ensure_quality_schema",
    "record_outcome",
    "row_conservation_violations",
    "runtime_sets_from_warehouse",
    "save_result",
    "validate_frame",
    "validate_table",
    "volume_anomalies",
]
