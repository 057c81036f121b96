"""Run the committed Great Expectations suites against frames and warehouse tables.

Suites live as JSON in ``<repo>/expectations/``; each expectation carries
``meta.severity`` (``error`` blocks the build, ``warning`` is reported) and ``meta.why``. They are
loaded into one *ephemeral* GX context per process, so GX keeps nothing on disk (no ``gx/``
folder) and has analytics switched off. GX costs several seconds to import, so it is imported
lazily, on the first validation, and the context is reused for the rest of the process.

Only the pandas execution path is used: GX's SQL path against DuckDB is broken in 1.24 (see
``../shared/STACK_NOTES.md``). Tables are therefore read through DuckDB into pandas via Arrow,
restricted to the columns the suite actually references.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl

from pipelines.settings import PROJECT_ROOT

if TYPE_CHECKING:
    import duckdb
    from great_expectations.core.batch_definition import BatchDefinition

DEFAULT_SUITES_DIR = PROJECT_ROOT / "expectations"
SEVERITIES = ("error", "warning")

# GX's own severity field is kept in step with ours so that the stored GX result reads the same.
_GX_SEVERITY = {"error": "critical", "warning": "warning"}

# Keys of an expectation's kwargs that name columns of the batch.
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list", "column_set")

# A suite name doubles as a file name: keep it to plain identifiers (no path traversal).
_SUITE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# schema.table, lower-case identifiers only; anything else is refused before it reaches SQL.
_QUALIFIED_TABLE = re.compile(r"^([a-z_][a-z0-9_]{0,62})\.([a-z_][a-z0-9_]{0,62})$")
_ALLOWED_SCHEMAS = frozenset({"raw", "ops", "staging", "intermediate", "marts"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Lists in the GX result are cut to this many items in `observed` (the full result keeps them).
_OBSERVED_SAMPLE = 5


class SuiteDefinitionError(ValueError):
    """A suite file is missing, malformed, or contains an expectation GX cannot build."""


class MissingRuntimeSetError(ValueError):
    """A suite references a ``$PARAMETER`` set that the caller did not pass in ``runtime_sets``."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """The verdict of one expectation, flattened for logs, check metadata and ops.check_results."""

    expectation: str
    column: str | None
    severity: str
    success: bool
    why: str
    observed: str


@dataclass(frozen=True)
class SuiteOutcome:
    """The verdict of one suite on one batch.

    ``success`` is False iff an error-severity expectation failed; warnings never block.
    """

    suite: str
    success: bool
    errors: tuple[ExpectationOutcome, ...]
    warnings: tuple[ExpectationOutcome, ...]
    outcomes: tuple[ExpectationOutcome, ...]
    result_json: dict[str, Any] = field(repr=False)

    def to_metadata(self) -> dict[str, Any]:
        """A compact, JSON-friendly dict for Dagster asset-check metadata.

        Only failures are spelled out; the full GX result is stored separately (see
        ``pipelines.quality.records.save_result``) because check metadata is shown in the UI.
        """
        stats = self.result_json.get("statistics", {})
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": stats.get("evaluated_expectations", len(self.outcomes)),
            "failed_errors": len(self.errors),
            "failed_warnings": len(self.warnings),
            "errors": [_outcome_line(o) for o in self.errors],
            "warnings": [_outcome_line(o) for o in self.warnings],
        }

    def summary(self) -> str:
        """One human sentence: what failed, by severity."""
        if not self.errors and not self.warnings:
            return f"{self.suite}: all {len(self.outcomes)} expectations passed"
        parts = []
        if self.errors:
            parts.append(
                f"{len(self.errors)} blocking error(s): " + "; ".join(_outcome_line(o) for o in self.errors)
            )
        if self.warnings:
            parts.append(
                f"{len(self.warnings)} warning(s): " + "; ".join(_outcome_line(o) for o in self.warnings)
            )
        return f"{self.suite}: " + " | ".join(parts)


def _outcome_line(outcome: ExpectationOutcome) -> str:
    column = f"({outcome.column})" if outcome.column else ""
    return f"{outcome.expectation}{column}: {outcome.observed}"


# --------------------------------------------------------------------------------------------
# Suite files


@dataclass(frozen=True)
class _SuiteSpec:
    """A suite file as committed: its name, raw JSON and the parameters it needs at run time."""

    name: str
    document: dict[str, Any]
    parameters: frozenset[str]


def suite_path(suite_name: str, suites_dir: Path = DEFAULT_SUITES_DIR) -> Path:
    """The JSON file of a suite; refuses names that are not plain identifiers."""
    if not _SUITE_NAME.match(suite_name):
        raise SuiteDefinitionError(f"suite name {suite_name!r} is not a plain lower-case identifier")
    return suites_dir / f"{suite_name}.json"


def load_suite_document(suite_name: str, suites_dir: Path = DEFAULT_SUITES_DIR) -> dict[str, Any]:
    """Read and check a suite file: every expectation needs a known severity and a why.

    Checked here rather than trusted because GX itself only *logs* an invalid expectation and
    drops it, which would turn a typo into a silently missing gate.
    """
    path = suite_path(suite_name, suites_dir)
    if not path.is_file():
        raise SuiteDefinitionError(f"no suite file {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteDefinitionError(f"{path} is not valid JSON: {exc}") from exc
    if document.get("name") != suite_name:
        raise SuiteDefinitionError(f"{path}: 'name' must be {suite_name!r}")
    expectations = document.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteDefinitionError(f"{path}: 'expectations' must be a non-empty list")
    for index, expectation in enumerate(expectations):
        meta = expectation.get("meta") or {}
        if meta.get("severity") not in SEVERITIES:
            raise SuiteDefinitionError(
                f"{path}: expectation #{index} ({expectation.get('type')}) needs "
                f"meta.severity in {SEVERITIES}"
            )
        if not isinstance(meta.get("why"), str) or not meta["why"].strip():
            raise SuiteDefinitionError(
                f"{path}: expectation #{index} ({expectation.get('type')}) needs a meta.why"
            )
    return document


def _suite_parameters(document: Mapping[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    for expectation in document["expectations"]:
        for value in expectation.get("kwargs", {}).values():
            if isinstance(value, dict) and "$PARAMETER" in value:
                names.add(str(value["$PARAMETER"]))
    return frozenset(names)


def _suite_spec(suite_name: str, suites_dir: Path) -> _SuiteSpec:
    # Read on every call on purpose: the files are tiny and an edited suite must take effect
    # in a long-lived process (dagster dev) without a restart.
    document = load_suite_document(suite_name, suites_dir)
    return _SuiteSpec(suite_name, document, _suite_parameters(document))


def suite_columns(suite_name: str, *, suites_dir: Path = DEFAULT_SUITES_DIR) -> set[str]:
    """Every column a suite refers to (kwargs and row conditions), to bound what is read."""
    columns: set[str] = set()
    for expectation in _suite_spec(suite_name, suites_dir).document["expectations"]:
        kwargs = expectation.get("kwargs", {})
        columns.update(kwargs[key] for key in _COLUMN_KWARGS if isinstance(kwargs.get(key), str))
        for key in _COLUMN_LIST_KWARGS:
            columns.update(kwargs.get(key) or ())
        condition = kwargs.get("row_condition")
        if isinstance(condition, str):
            # Over-approximate: words inside quoted literals are filtered out later against the
            # table's real columns.
            columns.update(_IDENTIFIER.findall(condition))
    return columns


# --------------------------------------------------------------------------------------------
# The one GX context of this process


def _import_great_expectations() -> ModuleType:
    """``import great_expectations`` without letting it import pyspark.

    GX probes pyspark when it is installed (it is, for the national rollup on Spark), and
    pyspark 4.3's Spark Connect probe calls ``sys.exit(0)`` when the main module has no file (a
    ``python -c`` script), ending the process silently. GX's pandas path never needs Spark, so the
    probe is shown an absent pyspark; a pyspark imported before stays as it is.
    """
    if "pyspark" in sys.modules:
        import great_expectations as gx

        return gx
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # import pyspark -> ImportError
    try:
        import great_expectations as gx
    finally:
        if sys.modules.get("pyspark", ...) is None:
            del sys.modules["pyspark"]
    return gx


class _GxRuntime:
    """The lazily imported GX module, its ephemeral context and a whole-dataframe batch definition.

    Created once per process, under a lock.
    """

    def __init__(self) -> None:
        gx = _import_great_expectations()
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch under HASH_THRESHOLD bytes by hashing all its values,
        # twice per validation (about 1 s per million requests); the fingerprint is only a batch
        # marker, which civicloop never reads. tests/test_quality.py fails if GX renames it.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.gx: ModuleType = gx
        config = DataContextConfig(
            # In-memory stores and no temporary docs site: GX writes nothing to disk.
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            # tqdm bars on stderr drown Dagster's compute logs.
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        asset = self.context.data_sources.add_pandas("civicloop_quality").add_dataframe_asset("frames")
        self.batch_definition: BatchDefinition = asset.add_batch_definition_whole_dataframe("whole_frame")
        # GX validators are not documented as thread-safe; Dagster may run checks in threads.
        self.lock = threading.Lock()


_RUNTIME: _GxRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def gx_runtime() -> _GxRuntime:
    """The process-wide GX runtime, created on first use (the import costs seconds)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            _RUNTIME = _GxRuntime()
        return _RUNTIME


def _build_suite(runtime: _GxRuntime, spec: _SuiteSpec) -> Any:
    document = json.loads(json.dumps(spec.document))  # deep copy: GX mutates what it is given
    for expectation in document["expectations"]:
        expectation["severity"] = _GX_SEVERITY[expectation["meta"]["severity"]]
    suite = runtime.gx.ExpectationSuite(**document)
    if len(suite.expectations) != len(document["expectations"]):
        # GX logs and skips expectations it cannot build; a skipped gate must not pass silently.
        built = {e.expectation_type for e in suite.expectations}
        dropped = sorted({e["type"] for e in document["expectations"]} - built) or ["(see log)"]
        missing = len(document["expectations"]) - len(suite.expectations)
        raise SuiteDefinitionError(
            f"suite {spec.name}: GX could not build {missing} expectation(s): {', '.join(dropped)}"
        )
    return suite


# --------------------------------------------------------------------------------------------
# Validation


def validate_frame(
    frame: pd.DataFrame | pl.DataFrame,
    suite_name: str,
    *,
    suites_dir: Path = DEFAULT_SUITES_DIR,
    runtime_sets: dict[str, list[str]] | None = None,
) -> SuiteOutcome:
    """Validate a pandas or polars frame against a committed suite.

    ``runtime_sets`` supplies the value sets that suites reference as ``{"$PARAMETER": name}``
    (e.g. ``district_codes`` from raw.districts); a missing one is an error rather than an
    always-failing expectation, so a wiring mistake is not mistaken for bad data.
    """
    spec = _suite_spec(suite_name, Path(suites_dir))
    parameters = dict(runtime_sets or {})
    missing = sorted(spec.parameters - parameters.keys())
    if missing:
        raise MissingRuntimeSetError(f"suite {suite_name} needs runtime_sets for: {', '.join(missing)}")
    if isinstance(frame, pl.DataFrame):
        frame = frame.to_pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")
    frame = _few_valued_text_as_categories(_widen_integers(frame))

    runtime = gx_runtime()
    with runtime.lock:
        suite = _build_suite(runtime, spec)
        batch = runtime.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            suite,
            result_format="SUMMARY",
            expectation_parameters={name: list(parameters[name]) for name in spec.parameters},
        )
    result_json = _jsonable(result.to_json_dict())
    return _outcome_from_result(suite_name, result_json)


# A text column is made categorical when its first rows repeat their values this often on average.
_CATEGORY_SAMPLE_ROWS = 10_000
_MIN_ROWS_PER_VALUE = 20


def _few_valued_text_as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text columns that hold few distinct values (codes, statuses) as categoricals.

    GX's pandas engine subsets the whole frame for each metric (row conditions, ignored rows);
    a categorical column is subset by its integer codes instead of copying every string. The
    results are the same (tests/test_quality.py); the 1M-request raw suite takes about half the
    time, conversion included. Whether a column has few values is judged on its first rows: a
    wrong guess costs time, never a different result.
    """
    sample = frame.head(_CATEGORY_SAMPLE_ROWS)
    few_valued = {
        column: "category"
        for column, dtype in frame.dtypes.items()
        if pd.api.types.is_string_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
        and sample[column].nunique() * _MIN_ROWS_PER_VALUE <= len(sample)
    }
    return frame.astype(few_valued) if few_valued else frame


def _widen_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with narrow integer columns (DuckDB INTEGER arrives as int32) widened to int64.

    GX compares int64 and float64 columns vectorised but any other dtype value by value in
    Python: a range check on a million int32 counts took over a second.
    """
    narrow = {
        column: "int64"
        for column, dtype in frame.dtypes.items()
        if isinstance(dtype, np.dtype) and dtype.kind in "iu" and dtype.itemsize < 8
    }
    return frame.astype(narrow) if narrow else frame


def validate_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_name: str,
    *,
    latest_batch_column: str | None = None,
    **kw: Any,
) -> SuiteOutcome:
    """Validate a warehouse table (``schema.table``) against a committed suite.

    Only the columns the suite references are read (DuckDB -> Arrow -> pandas), which keeps a
    wide request table's free text out of memory. Columns the suite names but the table lacks
    are left out of the read so that GX reports them as failed expectations, by name.
    With ``latest_batch_column`` (e.g. ``loaded_at``) only the rows of the newest load are read:
    older rows passed this gate when they arrived, so a daily increment costs what the day costs.
    Keyword arguments are passed on to ``validate_frame``.
    """
    schema, name = _check_table_name(table)
    existing = [
        row[0]
        for row in con.execute(
            """
            select column_name
            from information_schema.columns
            where table_schema = ? and table_name = ?
            order by ordinal_position
            """,
            [schema, name],
        ).fetchall()
    ]
    if not existing:
        raise ValueError(f"table {table} does not exist or has no columns")
    wanted = suite_columns(suite_name, suites_dir=Path(kw.get("suites_dir", DEFAULT_SUITES_DIR)))
    columns = [column for column in existing if column in wanted]
    # Identifiers cannot be bound parameters; they are safe here because every one of them was
    # matched against the regex above or read back from information_schema, and is quoted.
    select_list = ", ".join(_quote(column) for column in columns) or "1 as _row"
    relation = f"{_quote(schema)}.{_quote(name)}"
    latest_only = ""
    if latest_batch_column is not None:
        if latest_batch_column not in existing:
            raise ValueError(f"table {table} has no column {latest_batch_column}")
        batch = _quote(latest_batch_column)
        latest_only = f" where {batch} = (select max({batch}) from {relation})"
    arrow_table = con.execute(f"select {select_list} from {relation}{latest_only}").to_arrow_table()
    frame = arrow_table.to_pandas()
    if not columns:
        frame = frame.drop(columns=["_row"])
    return validate_frame(frame, suite_name, **kw)


def runtime_sets_from_warehouse(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The run-time value sets the committed suites use, read from raw.districts.

    ``district_codes``: every code in raw.districts; ``scopes``: ``city`` plus those codes.
    """
    codes = [
        row[0]
        for row in con.execute(
            "select distinct district_code from raw.districts where district_code is not null order by 1"
        ).fetchall()
    ]
    return {"district_codes": codes, "scopes": ["city", *codes]}


def _check_table_name(table: str) -> tuple[str, str]:
    match = _QUALIFIED_TABLE.match(table)
    if match is None or match.group(1) not in _ALLOWED_SCHEMAS:
        raise ValueError(f"table {table!r} must be schema.table with schema in {sorted(_ALLOWED_SCHEMAS)}")
    return match.group(1), match.group(2)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# Reading the GX result


def _outcome_from_result(suite_name: str, result_json: dict[str, Any]) -> SuiteOutcome:
    outcomes = tuple(_expectation_outcome(r) for r in result_json.get("results", []))
    errors = tuple(o for o in outcomes if not o.success and o.severity == "error")
    warnings = tuple(o for o in outcomes if not o.success and o.severity != "error")
    return SuiteOutcome(
        suite=suite_name,
        success=not errors,
        errors=errors,
        warnings=warnings,
        outcomes=outcomes,
        result_json=result_json,
    )


def _expectation_outcome(result: Mapping[str, Any]) -> ExpectationOutcome:
    config = result.get("expectation_config", {})
    kwargs = config.get("kwargs", {})
    meta = config.get("meta", {})
    column = _column_label(kwargs)
    return ExpectationOutcome(
        expectation=str(config.get("type")),
        column=column,
        severity=str(meta.get("severity", "error")),
        success=bool(result.get("success")),
        why=str(meta.get("why", "")),
        observed=_observed(result),
    )


def _column_label(kwargs: Mapping[str, Any]) -> str | None:
    if isinstance(kwargs.get("column"), str):
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    for key in _COLUMN_LIST_KWARGS:
        if kwargs.get(key):
            return ",".join(map(str, kwargs[key]))
    return None


def _observed(result: Mapping[str, Any]) -> str:
    """What GX saw, in words: an exception, an observed value, or the unexpected share."""
    message = _exception_message(result.get("exception_info"))
    if message:
        return f"could not evaluate: {message}"
    details = result.get("result") or {}
    if "observed_value" in details:
        return f"observed {details['observed_value']!r}"
    if "unexpected_count" in details:
        count = details.get("unexpected_count") or 0
        total = details.get("element_count") or 0
        percent = details.get("unexpected_percent") or 0.0
        text = f"{count} of {total} rows unexpected ({percent:.2f}%)"
        sample = (details.get("partial_unexpected_list") or [])[:_OBSERVED_SAMPLE]
        if count and sample:
            text += f", e.g. {sample}"
        return text
    return "no details"


def _exception_message(info: Any) -> str | None:
    # GX reports exceptions either flat or keyed by the metric that raised; find any message.
    if isinstance(info, Mapping):
        if info.get("raised_exception") and info.get("exception_message"):
            return str(info["exception_message"])
        for value in info.values():
            message = _exception_message(value)
            if message:
                return message
    return None


def _jsonable(value: Any) -> Any:
    """A strictly JSON-serialisable copy: NaN/inf become null, unknown objects their str()."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        # numpy scalars (np.str_, np.float64, np.bool_) leak from pandas into GX results.
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return str(value)


def iter_suite_names(suites_dir: Path = DEFAULT_SUITES_DIR) -> Iterable[str]:
    """The names of all committed suites, sorted."""
    return sorted(path.stem for path in Path(suites_dir).glob("*.json"))
