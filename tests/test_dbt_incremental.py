"""The month-partitioned feedback models: an incremental build rebuilds only the months a change
touches, and ends in exactly the state a full rebuild of the same raw data gives."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

try:
    from tests.dbt_fixture import build_raw_fixture
    from tests.test_dbt_models import MARTS, run_dbt
except ModuleNotFoundError:
    from dbt_fixture import build_raw_fixture
    from test_dbt_models import MARTS, run_dbt

pytestmark = pytest.mark.slow

INCREMENTAL_MODELS = (
    "intermediate.int_feedback__requests_enriched",
    "intermediate.int_feedback__period_aggregates",
    "intermediate.int_equity__closed_requests_by_period",
    "intermediate.int_equity__district_service_medians",
    "intermediate.int_equity__theil",
    "intermediate.int_equity__disparity_ratio",
    "marts.equity_district_resolution",
    "marts.resident_comments",
    "marts.request_facts",
    "marts.feedback_text_trends",
)
NOW = datetime(2026, 7, 1, 8, 0)
MARKER = "untouched since the first build"
UNTOUCHED_MONTH_REQUEST = "R17"  # March; no change below touches March (or its repeat window)
# 5 January: its month is rebuilt (R04, 10 January, closes late) but not its day
UNTOUCHED_DAY_REQUEST = "R01"
MOVED_REQUEST = "R24"  # opened 3 May; a later version moves it to 2 June


def _build(db_path: Path, work_dir: Path, *extra: str) -> None:
    result = run_dbt(db_path, work_dir, "build", *extra)
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt build failed: {result.exception} {failures}"


def _deliver_a_day_and_a_late_update(db_path: Path) -> None:
    """What one daily file does to raw: a new request (a repeat of R30) and R04 closed late."""
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "INSERT INTO raw.feedback_requests SELECT * REPLACE ("
            "'R31' AS request_id, TIMESTAMP '2026-06-20 09:00' AS opened_at, NULL AS closed_at, "
            "NULL AS first_response_at, 'open' AS status, 'p-R31' AS reporter_pseudonym, "
            "TIMESTAMP '2026-06-20 09:00' AS updated_at, 'hash-R31' AS record_hash, ? AS loaded_at) "
            "FROM raw.feedback_requests WHERE request_id = 'R30'",
            [NOW],
        )
        con.execute(
            "UPDATE raw.feedback_requests SET status = 'closed', closed_at = TIMESTAMP '2026-06-30 09:00', "
            "updated_at = TIMESTAMP '2026-06-30 09:00', record_hash = 'hash-R04-v2', loaded_at = ? "
            "WHERE request_id = 'R04'",
            [NOW],
        )
        con.execute("INSERT INTO raw.feedback_text_scores VALUES ('R31', -0.4, 1, 'road surface', ?)", [NOW])
        # A corrected version of R24 moves it from May to June, as the loader records it.
        con.execute(
            "INSERT INTO raw.feedback_request_moves "
            "SELECT request_id, opened_at, opened_at + INTERVAL 30 DAY, ? FROM raw.feedback_requests "
            "WHERE request_id = ?",
            [NOW, MOVED_REQUEST],
        )
        con.execute(
            "UPDATE raw.feedback_requests SET opened_at = opened_at + INTERVAL 30 DAY, "
            "closed_at = closed_at + INTERVAL 30 DAY, "
            "first_response_at = first_response_at + INTERVAL 30 DAY, "
            "updated_at = updated_at + INTERVAL 30 DAY, record_hash = 'hash-R24-v2', loaded_at = ? "
            "WHERE request_id = ?",
            [NOW, MOVED_REQUEST],
        )


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    described = con.execute(f"DESCRIBE {table}").fetchall()
    # Floats compared to 9 decimals (+ 0.0 turns -0.0 into 0.0): the two paths may sum in another order.
    rendered = ", ".join(
        f"CAST(round({name}, 9) + 0.0 AS VARCHAR)" if kind == "DOUBLE" else f"CAST({name} AS VARCHAR)"
        for name, kind, *_ in described
    )
    return sorted(con.execute(f"SELECT {rendered} FROM {table}").fetchall(), key=repr)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixture built once, then the same day delivered to two copies of it: one built
    incrementally, one rebuilt whole with --full-refresh."""
    tmp = tmp_path_factory.mktemp("incremental")
    incremental_db, full_db = tmp / "incremental.duckdb", tmp / "full.duckdb"
    build_raw_fixture(incremental_db)
    _build(incremental_db, tmp / "first")
    shutil.copy(incremental_db, full_db)
    for db_path in (incremental_db, full_db):
        _deliver_a_day_and_a_late_update(db_path)
    with duckdb.connect(str(incremental_db)) as con:
        # A month, or a day, the delivery does not touch must not be rebuilt: these markers would
        # disappear.
        con.execute(
            "UPDATE marts.resident_comments SET description = ? WHERE request_id IN (?, ?)",
            [MARKER, UNTOUCHED_MONTH_REQUEST, UNTOUCHED_DAY_REQUEST],
        )
    _build(incremental_db, tmp / "incremental")
    _build(full_db, tmp / "full", "--full-refresh")
    return {"incremental": incremental_db, "full": full_db, "tmp": tmp}


def test_untouched_months_are_not_rebuilt_and_touched_ones_are(built) -> None:
    with duckdb.connect(str(built["incremental"]), read_only=True) as con:
        comments = dict(con.execute("SELECT request_id, description FROM marts.resident_comments").fetchall())
        enriched = dict(
            con.execute(
                "SELECT request_id, is_repeat FROM intermediate.int_feedback__requests_enriched"
            ).fetchall()
        )
        closed = con.execute(
            "SELECT grain, period_start FROM intermediate.int_equity__closed_requests_by_period "
            "WHERE request_id = 'R04' ORDER BY grain"
        ).fetchall()
    assert comments[UNTOUCHED_MONTH_REQUEST] == MARKER
    assert comments[UNTOUCHED_DAY_REQUEST] == MARKER  # request-level models rebuild days
    assert comments["R04"] != MARKER
    with duckdb.connect(str(built["incremental"]), read_only=True) as con:
        moved = con.execute(
            "SELECT CAST(month_start AS VARCHAR) FROM intermediate.int_feedback__requests_enriched "
            "WHERE request_id = ?",
            [MOVED_REQUEST],
        ).fetchall()
    # Only in the month it moved to: May was rebuilt too, so its old row is gone.
    assert moved == [("2026-06-01",)]
    assert enriched["R31"] is True  # the new day's request, a repeat of R30 ten days earlier
    # R04 (January) was closed by the late update: January and its quarter were rebuilt.
    assert [(grain, str(period)) for grain, period in closed] == [
        ("month", "2026-01-01"),
        ("quarter", "2026-01-01"),
    ]


def test_incremental_build_equals_a_full_rebuild(built) -> None:
    with (
        duckdb.connect(str(built["incremental"])) as incremental,
        duckdb.connect(str(built["full"]), read_only=True) as full,
    ):
        for marked in (UNTOUCHED_MONTH_REQUEST, UNTOUCHED_DAY_REQUEST):
            original = full.execute(
                "SELECT description FROM marts.resident_comments WHERE request_id = ?", [marked]
            ).fetchone()
            assert original is not None
            incremental.execute(
                "UPDATE marts.resident_comments SET description = ? WHERE request_id = ?",
                [original[0], marked],
            )
        tables = (*INCREMENTAL_MODELS, *(f"marts.{mart}" for mart in MARTS))
        for table in tables:
            assert _rows(incremental, table) == _rows(full, table), table


def test_a_reference_load_rebuilds_every_month(built) -> None:
    db_path = built["tmp"] / "reference.duckdb"
    shutil.copy(built["incremental"], db_path)
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "UPDATE marts.resident_comments SET description = ? WHERE request_id = ?",
            [MARKER, UNTOUCHED_MONTH_REQUEST],
        )
        con.execute(
            "INSERT INTO ops.load_log "
            "VALUES ('districts.csv', 'reference', 'new', 'loaded', NULL, 3, 3, 0, ?)",
            [NOW],
        )
    _build(db_path, built["tmp"] / "reference")
    with duckdb.connect(str(db_path), read_only=True) as con:
        description = con.execute(
            "SELECT description FROM marts.resident_comments WHERE request_id = ?", [UNTOUCHED_MONTH_REQUEST]
        ).fetchone()
    assert description is not None and description[0] != MARKER


def _failed_tests(db_path: Path, work_dir: Path) -> set[str]:
    result = run_dbt(db_path, work_dir, "build")
    return {r.node.name for r in (result.result or []) if str(r.status) == "fail"}


def test_a_duplicate_keeps_failing_the_scoped_uniqueness_check_until_repaired(built) -> None:
    """The request-id checks look only at rows changed since they last passed: a duplicate that
    failed one build must fail the next one too, though that build changes nothing."""
    db_path = built["tmp"] / "duplicate.duckdb"
    shutil.copy(built["incremental"], db_path)
    with duckdb.connect(str(db_path)) as con:
        # A loader that forgot to record the move: R09's February row would stay beside its new one.
        con.execute(
            "UPDATE raw.feedback_requests SET opened_at = TIMESTAMP '2026-06-25 09:00', "
            "record_hash = 'hash-R09-v2', loaded_at = ? WHERE request_id = 'R09'",
            [datetime(2026, 7, 2, 8, 0)],
        )

    first = _failed_tests(db_path, built["tmp"] / "duplicate-1")
    second = _failed_tests(db_path, built["tmp"] / "duplicate-2")

    duplicated = "unique_where_changed_int_feedback__requests_enriched_request_id__month_start"
    assert duplicated in first
    assert duplicated in second
    _build(db_path, built["tmp"] / "repaired", "--full-refresh")


STATUS_TEST = "accepted_values_stg_feedback__requests_status__open__closed__acknowledged__in_progress"
SCOPED_TESTS = 9  # row-level tests with where "<column> > __last_passed__" (staging/feedback)


def _test_outcomes(db_path: Path, work_dir: Path) -> dict[str, tuple[str, int, str]]:
    """Test name -> (status, failing rows, compiled SQL) of one `dbt build`."""
    result = run_dbt(db_path, work_dir, "build")
    assert result.result is not None, result.exception
    return {
        r.node.name: (str(r.status), r.failures or 0, r.node.compiled_code or "")
        for r in result.result
        if r.node.resource_type == "test"
    }


def _set_status(db_path: Path, request_id: str, status: str, loaded_at: datetime) -> None:
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "UPDATE raw.feedback_requests SET status = ?, loaded_at = ? WHERE request_id = ?",
            [status, loaded_at, request_id],
        )


def test_row_tests_read_only_rows_loaded_since_they_last_passed(built) -> None:
    """A row-level test on the request staging views reads the rows loaded since it last passed;
    a bad row stays in its scope, build after build, until a corrected version arrives."""
    db_path = built["tmp"] / "scoped.duckdb"
    shutil.copy(built["incremental"], db_path)

    unchanged = _test_outcomes(db_path, built["tmp"] / "scoped-1")
    with duckdb.connect(str(db_path), read_only=True) as con:
        recorded = dict(
            con.execute("SELECT test_id, verified_until FROM intermediate.scoped_tests_verified").fetchall()
        )
    assert len(recorded) == SCOPED_TESTS
    assert [until for test_id, until in recorded.items() if STATUS_TEST in test_id] == [NOW]
    status, _, sql = unchanged[STATUS_TEST]
    assert status == "pass"
    assert "loaded_at > timestamp '2026-07-01 08:00:00'" in sql

    _set_status(db_path, "R05", "lost", datetime(2026, 7, 2, 8, 0))
    first = _test_outcomes(db_path, built["tmp"] / "scoped-2")
    second = _test_outcomes(db_path, built["tmp"] / "scoped-3")
    assert first[STATUS_TEST][:2] == ("warn", 1)
    assert second[STATUS_TEST][:2] == ("warn", 1)  # nothing new, but the bad row is still in scope

    _set_status(db_path, "R05", "closed", datetime(2026, 7, 3, 8, 0))
    repaired = _test_outcomes(db_path, built["tmp"] / "scoped-4")
    assert repaired[STATUS_TEST][:2] == ("pass", 0)
    assert "loaded_at > timestamp '2026-07-01 08:00:00'" in repaired[STATUS_TEST][2]


def test_a_reference_load_widens_row_tests_to_every_row(built) -> None:
    """Rows a test passed are not read again, so a row changed behind the loader's back is not
    seen, until something the verdicts depend on changes: here a new reference load."""
    db_path = built["tmp"] / "widened.duckdb"
    shutil.copy(built["incremental"], db_path)
    _set_status(db_path, "R05", "lost", datetime(2026, 1, 1))  # older than what the test passed
    assert _test_outcomes(db_path, built["tmp"] / "widened-1")[STATUS_TEST][:2] == ("pass", 0)

    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "INSERT INTO ops.load_log "
            "VALUES ('districts.csv', 'reference', 'new', 'loaded', NULL, 3, 3, 0, ?)",
            [datetime(2026, 7, 2, 8, 0)],
        )
    status, failures, sql = _test_outcomes(db_path, built["tmp"] / "widened-2")[STATUS_TEST]
    assert (status, failures) == ("warn", 1)
    assert "__last_passed__" not in sql and "loaded_at >" not in sql


def _period_aggregates_rebuilt_all(db_path: Path) -> bool:
    with duckdb.connect(str(db_path), read_only=True) as con:
        newest = con.execute(
            "SELECT bool_or(rebuild_all) FROM intermediate.feedback_rebuilt_months "
            "WHERE model_name = 'int_feedback__period_aggregates' AND recorded_at = ("
            "SELECT max(recorded_at) FROM intermediate.feedback_rebuilt_months "
            "WHERE model_name = 'int_feedback__period_aggregates')"
        ).fetchone()
    assert newest is not None
    return bool(newest[0])


def test_a_format_that_starts_recording_first_responses_rebuilds_every_period(built) -> None:
    """The response share counts only formats that record first responses at all
    (intermediate.int_feedback__response_recording): when one starts to, every period changes."""
    db_path = built["tmp"] / "recording.duckdb"
    shutil.copy(built["incremental"], db_path)
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "INSERT INTO raw.feedback_requests SELECT * REPLACE ("
            "'N01' AS request_id, 'nyc311' AS source_format, NULL AS first_response_at, ? AS loaded_at) "
            "FROM raw.feedback_requests WHERE request_id = 'R30'",
            [datetime(2026, 7, 2, 8, 0)],
        )
    _build(db_path, built["tmp"] / "recording-1")
    assert not _period_aggregates_rebuilt_all(db_path)  # a format that records none: June only

    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "UPDATE raw.feedback_requests SET first_response_at = opened_at + INTERVAL 2 HOUR, loaded_at = ? "
            "WHERE request_id = 'N01'",
            [datetime(2026, 7, 3, 8, 0)],
        )
    _build(db_path, built["tmp"] / "recording-2")
    assert _period_aggregates_rebuilt_all(db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        recording = dict(
            con.execute("SELECT * FROM intermediate.int_feedback__response_recording").fetchall()
        )
    assert recording["nyc311"] is True


@pytest.mark.parametrize(
    ("new_request", "opened_at", "made_a_repeat"),
    [
        # 30 days from 31 January end on 2 March: the window's ends lie in January and March, and
        # February, between them, holds the report it makes a repeat (R11, 9 February).
        ("R42", "2026-01-31 09:00", "R11"),
        # The repeat falls in the next month (R16, 10 March): every model that reads the repeat
        # flag (request_facts, the period aggregates) must rebuild that month too.
        ("R41", "2026-02-27 09:00", "R16"),
    ],
)
def test_a_late_report_rebuilds_the_repeats_it_makes_in_later_months(
    built, new_request: str, opened_at: str, made_a_repeat: str
) -> None:
    incremental_db = built["tmp"] / f"repeat-{new_request}-incremental.duckdb"
    full_db = built["tmp"] / f"repeat-{new_request}-full.duckdb"
    for db_path in (incremental_db, full_db):
        shutil.copy(built["incremental"], db_path)
        with duckdb.connect(str(db_path)) as con:
            # The same service at the same place, reported before the existing report.
            con.execute(
                "INSERT INTO raw.feedback_requests SELECT * REPLACE ("
                "? AS request_id, CAST(? AS TIMESTAMP) AS opened_at, CAST(? AS TIMESTAMP) AS updated_at, "
                "'hash-' || ? AS record_hash, ? AS loaded_at) "
                "FROM raw.feedback_requests WHERE request_id = ?",
                [new_request, opened_at, opened_at, new_request, datetime(2026, 7, 4, 8, 0), made_a_repeat],
            )
    _build(incremental_db, built["tmp"] / f"repeat-{new_request}-incremental")
    _build(full_db, built["tmp"] / f"repeat-{new_request}-full", "--full-refresh")

    with (
        duckdb.connect(str(incremental_db), read_only=True) as incremental,
        duckdb.connect(str(full_db), read_only=True) as full,
    ):
        repeat = incremental.execute(
            "SELECT is_repeat FROM marts.request_facts WHERE request_id = ?", [made_a_repeat]
        ).fetchone()
        assert repeat == (True,)
        for table in (*INCREMENTAL_MODELS, *(f"marts.{mart}" for mart in MARTS)):
            if table == "marts.resident_comments":
                continue  # carries the untouched-month marker of the shared fixture
            assert _rows(incremental, table) == _rows(full, table), table
