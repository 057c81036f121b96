"""Tests for the data-quality gates: committed GX suites, check records and volume checks."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from pipelines.quality import (
    MissingRuntimeSetError,
    SuiteDefinitionError,
    ensure_quality_schema,
    record_outcome,
    row_conservation_violations,
    runtime_sets_from_warehouse,
    save_result,
    validate_frame,
    validate_table,
    volume_anomalies,
)
from pipelines.quality.gx_runner import DEFAULT_SUITES_DIR, gx_runtime, iter_suite_names
from pipelines.settings import PROJECT_ROOT, Settings

DISTRICTS = ["D01", "D02", "D03"]
RUNTIME_SETS = {"district_codes": DISTRICTS, "scopes": ["city", *DISTRICTS]}
EXPECTED_SUITES = {
    "raw_feedback_requests",
    "raw_kpi_observations",
    "raw_survey_answers",
    "raw_survey_weights",
    "marts_indicator_values",
    "marts_consideration_scores",
}


def feedback_frame(n: int = 6) -> pd.DataFrame:
    """A small raw.feedback_requests frame that satisfies every expectation of its suite."""
    opened = pd.date_range("2024-05-01 08:00", periods=n, freq="h")
    return pd.DataFrame(
        {
            "request_id": [f"R{i:07d}" for i in range(n)],
            "opened_at": opened,
            "closed_at": opened + pd.Timedelta(days=2),
            "first_response_at": opened + pd.Timedelta(hours=3),
            "district_code": [DISTRICTS[i % len(DISTRICTS)] for i in range(n)],
            "channel": [("web", "phone", "app")[i % 3] for i in range(n)],
            "status": ["closed"] * n,
            "reopened_count": [0] * n,
            "lat": [42.39] * n,
            "lon": [-71.10] * n,
            "source_file": ["open311_requests_2024-05-01.json"] * n,
        }
    )


def indicator_frame() -> pd.DataFrame:
    """A small marts.indicator_values frame consistent with scoring method 1.0."""
    return pd.DataFrame(
        {
            "indicator_id": ["C1_response", "C1_response", "C2_fixed", "C2_fixed"],
            "period_start": pd.to_datetime(["2024-05-01"] * 4),
            "grain": ["month"] * 4,
            "scope": ["city", "D01", "city", "D01"],
            "value": [10.0, 12.0, 0.85, None],
            "target": [10.0, 10.0, 1.0, 1.0],
            "score": [1.0, 0.95, 0.85, None],
            "status": ["green", "amber", "red", "suppressed"],
            "n": [500, 40, 300, 3],
        }
    )


# ---------------------------------------------------------------------------------- suites


def test_every_suite_file_exists_and_every_expectation_has_severity_and_why() -> None:
    names = set(iter_suite_names())
    assert EXPECTED_SUITES <= names
    for name in names:
        document = json.loads((DEFAULT_SUITES_DIR / f"{name}.json").read_text())
        assert document["name"] == name
        assert document["expectations"], name
        for expectation in document["expectations"]:
            meta = expectation.get("meta", {})
            assert meta.get("severity") in {"error", "warning"}, (name, expectation["type"])
            assert isinstance(meta.get("why"), str) and len(meta["why"]) > 20, (
                name,
                expectation["type"],
            )
            # GX's own severity is derived from meta at load time; two sources would drift.
            assert "severity" not in expectation, (name, expectation["type"])


def test_every_suite_builds_completely_in_gx() -> None:
    """GX drops invalid expectations with only a log line; the runner must refuse instead."""
    from pipelines.quality.gx_runner import _build_suite, _suite_spec

    runtime = gx_runtime()
    for name in EXPECTED_SUITES:
        spec = _suite_spec(name, DEFAULT_SUITES_DIR)
        suite = _build_suite(runtime, spec)
        assert len(suite.expectations) == len(spec.document["expectations"]), name


def test_suite_with_unknown_expectation_type_is_refused(tmp_path: Path) -> None:
    suite = {
        "name": "broken",
        "expectations": [
            {
                "type": "expect_column_values_to_be_nott_null",
                "kwargs": {"column": "a"},
                "meta": {"severity": "error", "why": "a typo must not silently drop a gate"},
            }
        ],
    }
    (tmp_path / "broken.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteDefinitionError, match="could not build"):
        validate_frame(pd.DataFrame({"a": [1]}), "broken", suites_dir=tmp_path)


def test_suite_without_why_is_refused(tmp_path: Path) -> None:
    suite = {
        "name": "nowhy",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "meta": {"severity": "error"},
            }
        ],
    }
    (tmp_path / "nowhy.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteDefinitionError, match=r"meta\.why"):
        validate_frame(pd.DataFrame({"a": [1]}), "nowhy", suites_dir=tmp_path)


# ------------------------------------------------------------------------------ validation


def test_good_feedback_frame_passes_with_no_errors_or_warnings() -> None:
    outcome = validate_frame(feedback_frame(), "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    assert outcome.success, outcome.summary()
    assert outcome.errors == ()
    assert outcome.warnings == ()
    assert len(outcome.outcomes) == 14
    assert all(o.success for o in outcome.outcomes)


def test_polars_frame_is_accepted() -> None:
    outcome = validate_frame(
        pl.from_pandas(feedback_frame()), "raw_feedback_requests", runtime_sets=RUNTIME_SETS
    )
    assert outcome.success, outcome.summary()


@pytest.mark.parametrize(
    ("breakage", "expectation", "column"),
    [
        ("duplicate_id", "expect_column_values_to_be_unique", "request_id"),
        ("closed_before_opened", "expect_column_pair_values_a_to_be_greater_than_b", "closed_at,opened_at"),
        ("unknown_district", "expect_column_values_to_be_in_set", "district_code"),
        ("unknown_channel", "expect_column_values_to_be_in_set", "channel"),
        ("null_opened", "expect_column_values_to_not_be_null", "opened_at"),
    ],
)
def test_error_severity_failure_blocks_and_names_the_expectation(
    breakage: str, expectation: str, column: str
) -> None:
    frame = feedback_frame()
    if breakage == "duplicate_id":
        frame.loc[1, "request_id"] = frame.loc[0, "request_id"]
    elif breakage == "closed_before_opened":
        frame.loc[2, "closed_at"] = frame.loc[2, "opened_at"] - pd.Timedelta(days=1)
    elif breakage == "unknown_district":
        frame.loc[3, "district_code"] = "D99"
    elif breakage == "unknown_channel":
        frame.loc[3, "channel"] = "carrier_pigeon"
    elif breakage == "null_opened":
        frame.loc[0, "opened_at"] = pd.NaT

    outcome = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)

    assert outcome.success is False
    failed = {(o.expectation, o.column) for o in outcome.errors}
    assert (expectation, column) in failed, outcome.summary()
    named = next(o for o in outcome.errors if (o.expectation, o.column) == (expectation, column))
    assert named.severity == "error"
    assert named.why
    assert "unexpected" in named.observed
    assert outcome.to_metadata()["failed_errors"] == len(outcome.errors) >= 1


def test_warning_only_failure_keeps_success_and_lists_the_warning() -> None:
    frame = feedback_frame(20)
    frame.loc[:3, "district_code"] = None  # 20% without a district: warning, not error
    frame.loc[5, "status"] = "acknowledged"  # outside Open311 open/closed: warning

    outcome = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)

    assert outcome.success is True
    assert outcome.errors == ()
    warned = {(o.expectation, o.column) for o in outcome.warnings}
    assert warned == {
        ("expect_column_values_to_not_be_null", "district_code"),
        ("expect_column_values_to_be_in_set", "status"),
    }
    assert all(o.severity == "warning" and not o.success for o in outcome.warnings)
    assert "4 of 20 rows unexpected" in next(
        o.observed for o in outcome.warnings if o.column == "district_code"
    )
    metadata = outcome.to_metadata()
    assert metadata["success"] is True and metadata["failed_warnings"] == 2


def test_result_json_is_strictly_json_serialisable_even_with_timestamps_and_nans() -> None:
    frame = feedback_frame()
    frame.loc[2, "closed_at"] = frame.loc[2, "opened_at"] - pd.Timedelta(days=1)
    frame.loc[1, "lat"] = float("nan")
    outcome = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    text = json.dumps(outcome.result_json, allow_nan=False)
    assert json.loads(text)["suite_name"] == "raw_feedback_requests"
    json.dumps(outcome.to_metadata(), allow_nan=False)


def test_missing_runtime_set_is_an_error_not_a_failed_expectation() -> None:
    with pytest.raises(MissingRuntimeSetError, match="district_codes"):
        validate_frame(feedback_frame(), "raw_feedback_requests")


def test_indicator_values_rules() -> None:
    good = validate_frame(indicator_frame(), "marts_indicator_values", runtime_sets=RUNTIME_SETS)
    assert good.success, good.summary()
    assert good.warnings == ()

    leaked = indicator_frame()
    leaked.loc[3, "value"] = 2.0  # a suppressed cell that still shows its value
    leaked.loc[0, "score"] = 0.5  # green with a red score
    leaked.loc[1, "score"] = 1.5  # above the 1.2 cap
    outcome = validate_frame(leaked, "marts_indicator_values", runtime_sets=RUNTIME_SETS)
    assert outcome.success is False
    failed = {(o.expectation, o.column) for o in outcome.errors}
    assert ("expect_column_values_to_be_null", "value") in failed
    assert ("expect_column_values_to_be_between", "score") in failed
    n_score_failures = sum(1 for o in outcome.errors if o.column == "score")
    assert n_score_failures >= 2  # the 0..1.2 range and the green rule, separately

    mostly_suppressed = indicator_frame()
    mostly_suppressed.loc[2, ["value", "score", "status"]] = [None, None, "suppressed"]
    mostly_suppressed.loc[1, ["value", "score", "status"]] = [None, None, "suppressed"]
    outcome = validate_frame(mostly_suppressed, "marts_indicator_values", runtime_sets=RUNTIME_SETS)
    assert outcome.success, outcome.summary()
    assert [o.column for o in outcome.warnings] == ["status"]


def test_survey_value_outside_its_scale_fails() -> None:
    answers = pd.DataFrame(
        {
            "respondent_id": ["r1", "r1", "r2"],
            "wave": ["2024Q1"] * 3,
            "question_id": ["q1", "q2", "q1"],
            "consideration": [1, 2, 1],
            "value": [4.0, 99.0, None],  # 99 = an unmapped "don't know" code
            "scale_min": [1.0, 1.0, 1.0],
            "scale_max": [5.0, 5.0, 5.0],
        }
    )
    outcome = validate_frame(answers, "raw_survey_answers")
    assert outcome.success is False
    assert [o.column for o in outcome.errors] == ["scale_max,value"]


def test_survey_weights_trimming_share_is_a_warning() -> None:
    weights = pd.DataFrame(
        {
            "respondent_id": ["r1", "r2", "r3"],
            "wave": ["2024Q1"] * 3,
            "base_weight": [1200.0, 800.0, 1000.0],
            "raked_weight": [1250.0, 790.0, 960.0],  # scaled to the population: that is fine
            "trimmed": [False, False, False],
        }
    )
    assert validate_frame(weights, "raw_survey_weights").warnings == ()
    weights["trimmed"] = [True, False, False]  # a third held at a bound: far from the census
    outcome = validate_frame(weights, "raw_survey_weights")
    assert outcome.success is True
    assert {o.expectation for o in outcome.warnings} == {"expect_column_mean_to_be_between"}
    weights.loc[0, "raked_weight"] = 0.0
    assert validate_frame(weights, "raw_survey_weights").success is False


# --------------------------------------------------------------------------- DuckDB tables


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.districts (district_code varchar, district_name varchar)")
    con.executemany("insert into raw.districts values (?, ?)", [[code, code] for code in DISTRICTS])
    frame = feedback_frame()
    frame["description"] = "a long redacted free text nobody validates"
    con.register("feedback_frame", frame)
    con.execute("create table raw.feedback_requests as select * from feedback_frame")
    con.unregister("feedback_frame")
    yield con
    con.close()


def test_validate_table_reads_the_table_and_uses_districts_from_the_warehouse(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    sets = runtime_sets_from_warehouse(warehouse)
    assert sets == {"district_codes": DISTRICTS, "scopes": ["city", *DISTRICTS]}
    outcome = validate_table(warehouse, "raw.feedback_requests", "raw_feedback_requests", runtime_sets=sets)
    assert outcome.success, outcome.summary()

    warehouse.execute(
        "update raw.feedback_requests set closed_at = opened_at - interval 1 day where request_id = ?",
        ["R0000001"],
    )
    outcome = validate_table(warehouse, "raw.feedback_requests", "raw_feedback_requests", runtime_sets=sets)
    assert outcome.success is False
    assert [o.column for o in outcome.errors] == ["closed_at,opened_at"]


def test_validate_table_reports_a_missing_column_as_a_failed_expectation(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute("alter table raw.feedback_requests drop column channel")
    outcome = validate_table(
        warehouse, "raw.feedback_requests", "raw_feedback_requests", runtime_sets=RUNTIME_SETS
    )
    assert outcome.success is False
    channel = next(o for o in outcome.errors if o.column == "channel")
    assert channel.observed.startswith("could not evaluate")


@pytest.mark.parametrize(
    "table",
    [
        "feedback_requests",
        "raw.feedback_requests; drop table raw.districts",
        "secret.t",
        'raw."feedback_requests"',
        "../raw.x",
    ],
)
def test_validate_table_refuses_unsafe_table_names(warehouse: duckdb.DuckDBPyConnection, table: str) -> None:
    with pytest.raises(ValueError, match=r"schema\.table"):
        validate_table(warehouse, table, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    assert warehouse.execute("select count(*) from raw.districts").fetchone() == (3,)


# ------------------------------------------------------------------------------- records


def test_records_are_written_to_ops_check_results_and_full_result_to_disk(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    ensure_quality_schema(warehouse)
    ensure_quality_schema(warehouse)  # idempotent
    good = validate_frame(feedback_frame(), "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    broken_frame = feedback_frame()
    broken_frame.loc[1, "request_id"] = broken_frame.loc[0, "request_id"]
    bad = validate_frame(broken_frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    at = dt.datetime(2024, 5, 2, 6, 0)

    record_outcome(warehouse, "build-1", "raw/feedback_requests", good, checked_at=at)
    record_outcome(warehouse, "build-2", "raw/feedback_requests", bad, checked_at=at)
    record_outcome(warehouse, "build-2", "raw/feedback_requests", bad, checked_at=at)  # retry

    rows = warehouse.execute(
        "select build_id, check_name, asset, severity, passed, summary, details_json, checked_at "
        "from ops.check_results order by build_id"
    ).fetchall()
    assert len(rows) == 2
    assert rows[0][:5] == ("build-1", "raw_feedback_requests", "raw/feedback_requests", "none", True)
    assert rows[1][:5] == ("build-2", "raw_feedback_requests", "raw/feedback_requests", "error", False)
    assert "expect_column_values_to_be_unique(request_id)" in rows[1][5]
    assert json.loads(rows[1][6])["failed_errors"] == 1
    assert rows[1][7] == at

    settings = Settings(data_dir=tmp_path / "data")
    path = save_result(settings, "build-2", bad)
    assert path == tmp_path / "data" / "quality" / "gx_results" / "build-2" / "raw_feedback_requests.json"
    stored = json.loads(path.read_text())
    assert stored["success"] is False
    assert len(stored["results"]) == len(bad.outcomes)
    with pytest.raises(ValueError, match="build_id"):
        save_result(settings, "../escape", bad)


# -------------------------------------------------------------------------------- volume


def load_log(rows: list[tuple[str, str, str, int | None, int | None, int | None, int]]) -> pl.DataFrame:
    """ops.load_log rows from (file, source, status, read, accepted, quarantined, day)."""
    return pl.DataFrame(
        {
            "file": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "sha256": ["x"] * len(rows),
            "status": [r[2] for r in rows],
            "error": [None] * len(rows),
            "rows_read": [r[3] for r in rows],
            "rows_accepted": [r[4] for r in rows],
            "rows_quarantined": [r[5] for r in rows],
            "loaded_at": [dt.datetime(2024, 5, r[6], 6) for r in rows],
        },
        schema_overrides={
            "rows_read": pl.Int64,
            "rows_accepted": pl.Int64,
            "rows_quarantined": pl.Int64,
            "error": pl.String,
        },
    )


def test_volume_drop_is_flagged_against_the_same_file_family_only() -> None:
    rows = [
        (f"open311_requests_2024-05-0{d}.json", "feedback", "loaded", 1000 + d, 1000 + d, 0, d)
        for d in range(1, 6)
    ]
    # A different family of the same source is always small; it must not drag the median.
    rows += [(f"city311_2024-05-0{d}.csv", "feedback", "loaded", 50, 50, 0, d) for d in range(1, 6)]
    rows.append(("open311_requests_2024-05-06.json", "feedback", "loaded", 300, 300, 0, 6))
    rows.append(("open311_requests_2024-05-07.json", "feedback", "loaded", 500, 500, 0, 7))
    warnings = volume_anomalies(load_log(rows))

    assert [(w.file, w.kind) for w in warnings] == [("open311_requests_2024-05-06.json", "volume_drop")]
    warning = warnings[0]
    assert warning.value == pytest.approx(1 - 300 / 1003)
    assert "300 rows" in warning.message and "70% fewer" in warning.message
    assert "median of 1003 rows" in warning.message


def test_volume_needs_history_and_ignores_non_loaded_files() -> None:
    rows = [
        ("kpis_2024-01.csv", "kpis", "loaded", 100, 100, 0, 1),
        ("kpis_2024-02.csv", "kpis", "loaded", 10, 10, 0, 2),  # only one predecessor
        ("kpis_2024-03.csv", "kpis", "rejected", 0, 0, 0, 3),
        ("kpis_2024-04.csv", "kpis", "duplicate", 0, 0, 0, 4),
    ]
    assert volume_anomalies(load_log(rows)) == []


def test_quarantine_rate_above_threshold_warns() -> None:
    rows = [
        ("survey_2024Q1.csv", "survey", "loaded", 1000, 950, 50, 1),  # exactly 5%: fine
        ("survey_2024Q2.csv", "survey", "loaded", 1000, 900, 100, 2),  # 10%
    ]
    warnings = volume_anomalies(load_log(rows))
    assert [(w.file, w.kind) for w in warnings] == [("survey_2024Q2.csv", "quarantine_rate")]
    assert "100 of 1000 rows quarantined (10.0%)" in warnings[0].message
    assert volume_anomalies(load_log(rows), quarantine_threshold=0.2) == []


def test_row_conservation_violations() -> None:
    rows = [
        ("a.json", "feedback", "loaded", 100, 90, 10, 1),  # conserved
        ("b.json", "feedback", "loaded", 100, 90, 5, 1),  # 5 rows lost
        ("c.json", "feedback", "loaded", 100, 100, 3, 1),  # 3 rows too many
        ("d.json", "feedback", "loaded", 100, None, 0, 1),  # not accounted
        ("e.json", "feedback", "rejected", 100, 0, 0, 1),  # rejected files are exempt
        ("f.json", "feedback", "duplicate", 100, 0, 0, 1),
    ]
    violations = row_conservation_violations(load_log(rows))
    assert [v.file for v in violations] == ["b.json", "c.json", "d.json"]
    assert "5 rows unaccounted for" in violations[0].message
    assert "3 rows too many" in violations[1].message
    assert "incomplete" in violations[2].message
    assert row_conservation_violations(load_log(rows[:1])) == []


# ---------------------------------------------------------------- isolation and performance


def test_gx_context_is_ephemeral_without_analytics() -> None:
    runtime = gx_runtime()
    assert runtime is gx_runtime()  # one per process
    assert type(runtime.context).__name__ == "EphemeralDataContext"
    assert runtime.context.config.analytics_enabled is False


def test_gx_writes_no_files_and_opens_no_sockets(tmp_path: Path) -> None:
    """In a fresh process (so the import itself is covered): no gx/ folder, no connections."""
    script = textwrap.dedent(
        """
        import json, socket, sys
        attempts = []
        def audit(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
                attempts.append([event, repr(args)[:200]])
        sys.addaudithook(audit)
        import pandas as pd
        from pipelines.quality import validate_frame
        frame = pd.DataFrame({"request_id": ["a", "a"], "opened_at": pd.to_datetime(["2024-01-01"] * 2)})
        outcome = validate_frame(frame, "raw_feedback_requests",
                                 runtime_sets={"district_codes": ["D01"]})
        print(json.dumps({"attempts": attempts, "success": outcome.success}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"attempts": [], "success": False}
    # The working directory and HOME were empty before; GX must have left nothing in either.
    assert list(tmp_path.rglob("*")) == []
    assert not (PROJECT_ROOT / "gx").exists()


def test_validate_frame_time_on_one_million_feedback_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """Measured and reported, with a generous ceiling so a pathological slowdown still fails."""
    n = 1_000_000
    frame = pd.concat([feedback_frame(1000)] * (n // 1000), ignore_index=True)
    frame["request_id"] = [f"R{i:07d}" for i in range(n)]
    validate_frame(feedback_frame(), "raw_feedback_requests", runtime_sets=RUNTIME_SETS)  # warm
    started = time.perf_counter()
    outcome = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nvalidate_frame: {n:,} rows x {len(outcome.outcomes)} expectations "
            f"(raw_feedback_requests) in {elapsed:.2f} s"
        )
    assert outcome.success, outcome.summary()
    assert elapsed < 60


def test_batches_are_not_fingerprinted_by_hashing_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """GX's per-batch fingerprint hashed every value twice per validation; it is switched off.

    If GX renames the threshold or its hash function, this fails instead of the cost returning.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    gx_runtime()
    assert pandas_execution_engine.HASH_THRESHOLD == 0

    def refuse(frame: pd.DataFrame) -> str:
        raise AssertionError("GX hashed a whole batch")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", refuse)
    outcome = validate_frame(feedback_frame(), "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    assert outcome.success, outcome.summary()


def test_few_valued_text_columns_validate_as_categories_with_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Codes and statuses go to GX as categoricals (cheaper to subset); what GX finds is unchanged."""
    from pipelines.quality import gx_runner

    frame = feedback_frame(2_000)
    frame.loc[5, "channel"] = "carrier pigeon"
    frame.loc[7, "status"] = "teleported"
    frame.loc[9, "district_code"] = "ZZ9"
    frame.loc[[11, 12], "district_code"] = None
    frame.loc[13, "request_id"] = frame.loc[14, "request_id"]
    converted = gx_runner._few_valued_text_as_categories(frame)
    categorical = {
        column for column, dtype in converted.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)
    }
    assert categorical == {"district_code", "channel", "status", "source_file"}  # not the unique ids
    as_categories = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    monkeypatch.setattr(gx_runner, "_few_valued_text_as_categories", lambda unchanged: unchanged)
    as_text = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    failed = {o.column for o in (*as_text.errors, *as_text.warnings)}
    assert failed >= {"channel", "status", "district_code", "request_id"}
    assert as_categories.errors == as_text.errors
    assert as_categories.warnings == as_text.warnings
    assert as_categories.outcomes == as_text.outcomes


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint16", "uint32"])
def test_narrow_integer_columns_are_range_checked_with_their_values(dtype: str) -> None:
    """DuckDB INTEGER arrives as int32; it is widened for GX's vectorised range check, values kept."""
    frame = feedback_frame(8)
    frame["reopened_count"] = pd.Series([0, 1, 2, 3, 0, 1, 2, 3], dtype=dtype)
    assert validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS).success
    if dtype.startswith("u"):
        return  # an unsigned count cannot be negative
    frame["reopened_count"] = pd.Series([0, -1, 2, 3, 0, -4, 2, 3], dtype=dtype)
    outcome = validate_frame(frame, "raw_feedback_requests", runtime_sets=RUNTIME_SETS)
    failed = next(o for o in outcome.errors if o.column == "reopened_count")
    assert failed.expectation == "expect_column_values_to_be_between"
    assert "2 of 8 rows unexpected" in failed.observed
    assert "-1" in failed.observed and "-4" in failed.observed


MART_CONTRACT_COLUMNS = {
    "marts_indicator_values": {
        "indicator_id",
        "period_start",
        "grain",
        "scope",
        "value",
        "target",
        "score",
        "status",
        "n",
    },
    "marts_consideration_scores": {"consideration", "period_start", "grain", "score", "status"},
}


def test_suites_only_name_contract_columns() -> None:
    """A typo in a suite's column would otherwise show up only as a failure at build time."""
    from pipelines.quality.gx_runner import suite_columns

    schema = pytest.importorskip("pipelines.ingest.schema")
    for name in EXPECTED_SUITES:
        referenced = suite_columns(name) - {"suppressed", "green", "amber", "red"}
        if name.startswith("raw_"):
            contract = set(schema.table_columns("raw", name.removeprefix("raw_")))
        else:
            contract = MART_CONTRACT_COLUMNS[name]
        assert referenced <= contract, (name, referenced - contract)
    # The free-text column is never read for validation.
    assert "description" not in suite_columns("raw_feedback_requests")
