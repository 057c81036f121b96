"""A whole build of a small sample city: real files, real DuckDB, real dbt, real Dagster."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.build import BuildOutcome, run_build
from pipelines.generate import generate_city, generate_feedback_day
from pipelines.settings import Settings

pytestmark = pytest.mark.slow

SMALL_CITY = {"n_requests": 20_000, "quarters": 4, "survey_respondents_per_wave": 400}


@pytest.fixture(scope="module")
def built_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, BuildOutcome, dict]:
    data_dir = tmp_path_factory.mktemp("city")
    previous = os.environ.get("CIVICLOOP_DATA_DIR")
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    try:
        truth = generate_city(data_dir, seed=7, **SMALL_CITY)
        settings = Settings(data_dir=data_dir)
        outcome = run_build(settings)
    finally:
        if previous is None:
            os.environ.pop("CIVICLOOP_DATA_DIR", None)
        else:
            os.environ["CIVICLOOP_DATA_DIR"] = previous
    return settings, outcome, truth


def published(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.published_path), read_only=True)


def test_build_materializes_every_asset_and_publishes(built_city) -> None:
    settings, outcome, _ = built_city
    from pipelines.definitions import defs

    assert outcome.success, (outcome.failed_steps, outcome.failed_checks)
    expected = {key.to_user_string() for key in defs.resolve_asset_graph().materializable_asset_keys}
    assert expected - set(outcome.materialized) == set()
    assert outcome.published
    assert settings.published_path.exists()


def test_the_build_runs_dbt_tests_but_not_dbt_unit_tests(built_city) -> None:
    """Unit tests check SQL logic, not data: tests/test_dbt_models.py runs them, builds do not."""
    _, outcome, _ = built_city
    from pipelines.defs.transform import DBT_PROJECT_DIR

    run_dirs = list((DBT_PROJECT_DIR / "target").glob(f"civicloop_dbt_models-{outcome.run_id[:7]}-*"))
    assert len(run_dirs) == 1, run_dirs
    results = json.loads((run_dirs[0] / "run_results.json").read_text(encoding="utf-8"))
    kinds = {result["unique_id"].split(".")[0] for result in results["results"]}
    assert {"model", "test"} <= kinds
    assert "unit_test" not in kinds


def test_the_build_forks_its_dbt_command_from_the_runs_warm_dbt_server(built_city) -> None:
    """pipelines/warm_dbt.py: the dbt resource starts a server per run; dbt runs as its fork."""
    import dagster as dg

    from pipelines.warm_dbt import WarmDbtServer, client_executable

    if not (WarmDbtServer.supported() and client_executable().is_file()):
        pytest.skip("the warm dbt server needs Linux and the civicloop-dbt script (make venv)")
    settings, outcome, _ = built_city
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        messages = [entry.user_message for entry in instance.all_logs(outcome.run_id)]
    assert "Warm dbt server: 1 dbt command(s) forked from it in this run." in messages


def test_every_row_read_is_accepted_or_quarantined(built_city) -> None:
    settings, _, _ = built_city
    with published(settings) as con:
        files = con.sql(
            "select file, status, rows_read, rows_accepted, rows_quarantined from ops.load_log"
        ).fetchall()
        quarantined_rows = con.sql("select file, count(*) from ops.quarantine group by file").fetchall()
    assert files, "no file was logged"
    for file, status, read, accepted, quarantined in files:
        if status == "loaded":
            assert read == accepted + quarantined, file
    logged = {file: q for file, _, _, _, q in files}
    for file, count in quarantined_rows:
        assert logged[file] == count


def test_all_six_considerations_have_real_scores(built_city) -> None:
    settings, _, _ = built_city
    with published(settings) as con:
        rows = con.sql(
            """
            select consideration, count(*) filter (where score is not null)
            from marts.consideration_scores
            where grain = 'quarter'
            group by consideration order by consideration
            """
        ).fetchall()
        catalog = con.sql("select consideration, count(*) from marts.indicator_catalog group by 1").fetchall()
    assert [c for c, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert all(n > 0 for _, n in rows)
    assert all(n >= 3 for _, n in catalog)


def test_capacity_and_review_indicators_match_the_raw_rows(built_city) -> None:
    """Considerations 3 and 6 have no public data (docs/indicators.md, synthetic worked examples):
    recompute them here from the raw KPI and review rows, in Python, not through dbt."""
    settings, _, _ = built_city
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        kpis = con.sql(
            "select kpi_id, period_month, actual, target from raw.kpi_observations "
            "where kpi_id in ('dto_headcount', 'cost_per_transaction')"
        ).fetchall()
        decisions = con.sql(
            "select entry_id, review_quarter, decision, action_due, action_status, "
            "action_completed_on, rationale, corrects_entry_id from raw.review_decisions"
        ).fetchall()
    with published(settings) as con:
        shown = {
            (indicator, start): value
            for indicator, start, value in con.sql(
                "select indicator_id, period_start, value from marts.indicator_values "
                "where grain = 'quarter' and scope = 'city' and value is not null and indicator_id in "
                "('c3_dto_headcount_vs_plan', 'c3_cost_per_transaction', 'c6_actions_on_time', "
                "'c6_targets_revised_with_reason')"
            ).fetchall()
        }

    def quarter(day: dt.date) -> dt.date:
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)

    values: dict[tuple[str, dt.date], list[tuple[float, float]]] = {}
    for kpi, month, actual, target in kpis:
        indicator = "c3_dto_headcount_vs_plan" if kpi == "dto_headcount" else "c3_cost_per_transaction"
        values.setdefault((indicator, quarter(month)), []).append((actual, target))
    for (indicator, start), pairs in values.items():
        if indicator == "c3_dto_headcount_vs_plan":  # ratio to plan: sum(actual) / sum(target)
            expected = sum(a for a, _ in pairs) / sum(t for _, t in pairs)
        else:  # mean of the agencies' monthly costs
            expected = sum(a for a, _ in pairs) / len(pairs)
        assert shown[(indicator, start)] == pytest.approx(expected), (indicator, start)
    superseded = {row[7] for row in decisions if row[7]}
    on_time: dict[dt.date, list[bool]] = {}
    with_reason: dict[dt.date, list[bool]] = {}
    for entry_id, review_quarter, decision, due, status, done_on, rationale, _ in decisions:
        if entry_id in superseded:
            continue
        if decision == "add_action" and due is not None and (status == "done" or due < dt.date.today()):
            on_time.setdefault(quarter(due), []).append(status == "done" and done_on <= due)
        if decision == "revise_target":
            year, number = int(review_quarter[:4]), int(review_quarter[-1])
            with_reason.setdefault(dt.date(year, 3 * number - 2, 1), []).append(
                bool((rationale or "").strip())
            )
    for indicator, flags in (
        ("c6_actions_on_time", on_time),
        ("c6_targets_revised_with_reason", with_reason),
    ):
        quarters = [start for name, start in shown if name == indicator]
        assert quarters, indicator
        for start in quarters:
            expected = sum(flags[start]) / len(flags[start])
            assert shown[(indicator, start)] == pytest.approx(expected), (indicator, start)


def test_no_pii_canary_reaches_the_published_snapshot(built_city) -> None:
    settings, _, truth = built_city
    canaries = truth["pii_canaries"]
    assert canaries
    with published(settings) as con:
        text_columns = con.sql(
            """
            select table_schema, table_name, column_name from information_schema.columns
            where data_type = 'VARCHAR'
            """
        ).fetchall()
        for schema, table, column in text_columns:
            values = con.sql(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
            blob = "\n".join(str(v[0]) for v in values if v[0] is not None)
            leaked = [c for c in canaries if c in blob]
            assert not leaked, f"{schema}.{table}.{column} leaks {leaked[:3]}"


READER = """
import sys, time, duckdb
path, seconds = sys.argv[1], float(sys.argv[2])
errors = reads = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        with duckdb.connect(path, read_only=True) as con:
            con.sql("select count(*) from marts.indicator_values").fetchone()
        reads += 1
    except Exception as exc:
        errors += 1
        print(repr(exc), file=sys.stderr)
print(reads, errors)
"""


def test_published_file_stays_readable_while_a_build_runs(built_city) -> None:
    settings, _, _ = built_city
    env = {**os.environ, "CIVICLOOP_DATA_DIR": str(settings.resolved_data_dir)}
    build = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "build", "--no-docs"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(1)
    reader = subprocess.run(
        [sys.executable, "-c", READER, str(settings.published_path), "8"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    build_output, _ = build.communicate(timeout=600)
    reads, errors = map(int, reader.stdout.split())
    assert errors == 0, reader.stderr
    assert reads > 20
    assert build.returncode == 0, build_output.decode()[-3000:]


def test_truth_file_describes_the_city(built_city) -> None:
    settings, _, truth = built_city
    assert json.loads(settings.truth_path.read_text()) == truth


def test_a_new_days_files_are_ingested_and_scored_incrementally(built_city) -> None:
    settings, _, truth = built_city
    day = dt.date.fromisoformat(truth["end_exclusive"])
    new_files = generate_feedback_day(settings.resolved_data_dir, day, n_requests=60, seed=99)
    warehouse = duckdb.connect(str(settings.warehouse_path), read_only=True)
    requests_before = warehouse.sql("select count(*) from raw.feedback_requests").fetchone()[0]
    scored_before = warehouse.sql("select max(scored_at) from raw.feedback_text_scores").fetchone()[0]
    warehouse.close()

    outcome = run_build(settings, job_name="refresh_feedback")

    assert outcome.published, outcome
    assert "raw/feedback_requests" in outcome.materialized
    assert "raw/kpi_observations" not in outcome.materialized  # other sources are not touched
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        accepted = con.execute(
            "select sum(rows_accepted) from ops.load_log where file in (select unnest(?::varchar[]))",
            [[path.name for path in new_files]],
        ).fetchone()[0]
        requests_after = con.sql("select count(*) from raw.feedback_requests").fetchone()[0]
        rescored = con.execute(
            "select count(*) from raw.feedback_text_scores where scored_at > ?", [scored_before]
        ).fetchone()[0]
        new_with_text = con.execute(
            "select count(*) from raw.feedback_requests where description is not null "
            "and source_file in (select unnest(?::varchar[]))",
            [[path.name for path in new_files]],
        ).fetchone()[0]
    assert accepted > 0
    assert requests_after == requests_before + accepted
    # Only the day's requests were scored; the history kept its scores and topic ids.
    assert rescored == new_with_text
