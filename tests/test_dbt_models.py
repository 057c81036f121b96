"""Integration tests of the dbt project: one real `dbt build` over the hand-made raw fixture.

Expected values are worked out by hand from tests/dbt_fixture.py (arithmetic in the comments).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import statistics
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

try:  # tests/ as a package, or on sys.path (pytest's default prepend import without __init__.py)
    from tests.dbt_fixture import REQUESTS, build_raw_fixture
except ModuleNotFoundError:
    from dbt_fixture import REQUESTS, build_raw_fixture

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

MARTS = (
    "indicator_catalog",
    "indicator_values",
    "consideration_scores",
    "composite_scores",
    "districts",
    "indicator_targets_history",
    "feedback_funnel",
    "feedback_text_trends",
    "resident_comments",
    "request_facts",
    "survey_estimates",
    "review_actions",
    "equity_theil",
    "source_freshness",
    "weight_sensitivity",
    "indicator_targets_log",
    "equity_district_resolution",
)
METHOD_VERSION = "1.2"
# The fixture's age bands hold ten respondents each (40 in all): under the production small-cell
# rule for age-band gaps (30) no band would be left to compare.
FIXTURE_VARS = "{survey_gap_min_band_n: 10}"
DBT_ENV = {
    "CIVICLOOP_DUCKDB_MEMORY_LIMIT": "1GB",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}


def _close_dbt_duckdb_environment() -> None:
    """dbt-duckdb keeps its DuckDB instance open in-process after `invoke`; close it so the test
    can open the file itself (DuckDB refuses a second configuration of an open file)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def run_dbt(db_path: Path, work_dir: Path, *args: str):
    """`dbt <args>` on db_path with its own target and log paths (dbt_project/target is shared)."""
    from dbt.cli.main import dbtRunner

    env = {**DBT_ENV, "CIVICLOOP_WAREHOUSE_PATH": str(db_path)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(work_dir / "target"),
                "--log-path",
                str(work_dir / "logs"),
                "--vars",
                FIXTURE_VARS,
                "--quiet",
            ]
        )
    finally:
        _close_dbt_duckdb_environment()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return result


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the fixture warehouse and run `dbt build` once for the whole module."""
    tmp = tmp_path_factory.mktemp("dbt")
    db_path = tmp / "warehouse.duckdb"
    build_raw_fixture(db_path)
    target_path = tmp / "target"
    result = run_dbt(db_path, tmp, "build")
    failures = []
    if result.result is not None:
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in result.result
            if str(r.status) not in ("success", "pass")
        ]
    assert result.success, f"dbt build failed: {result.exception} {failures}"
    manifest = json.loads((target_path / "manifest.json").read_text())
    return {"db_path": db_path, "manifest": manifest, "tmp": tmp}


@pytest.fixture(scope="module")
def con(warehouse: dict):
    connection = duckdb.connect(str(warehouse["db_path"]), read_only=True)
    yield connection
    connection.close()


def row(con, sql: str, params: list | None = None) -> dict:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    rows = rel.fetchall()
    assert len(rows) == 1, f"expected one row, got {len(rows)}: {sql} {params}"
    return dict(zip(names, rows[0], strict=True))


def indicator(con, indicator_id: str, period_start: str, grain: str, scope: str = "city") -> dict:
    return row(
        con,
        "select * from marts.indicator_values where indicator_id = ? and period_start = ? "
        "and grain = ? and scope = ?",
        [indicator_id, date.fromisoformat(period_start), grain, scope],
    )


# --- consideration 1 ------------------------------------------------------------------------


def test_reports_per_1k_city_and_district(con):
    # January: 8 reports / 12,000 adults * 1,000 = 0.667; D01: 4 / 4,000 * 1,000 = 1.0
    assert indicator(con, "c1_reports_per_1k", "2026-01-01", "month")["value"] == pytest.approx(8 / 12)
    assert indicator(con, "c1_reports_per_1k", "2026-01-01", "month", "D01")["value"] == pytest.approx(1.0)
    # Q1: 18 reports over 3 months -> 6 per month / 12,000 * 1,000 = 0.5
    assert indicator(con, "c1_reports_per_1k", "2026-01-01", "quarter")["value"] == pytest.approx(0.5)


def test_reports_per_1k_history_target_and_cap(con):
    # history_mean_minus_sd: April's target is mean - sd of Jan-Mar (0.667, 0.5, 0.333) = 0.5 - 1/6
    april = indicator(con, "c1_reports_per_1k", "2026-04-01", "month")
    assert april["target"] == pytest.approx(1 / 3)
    assert april["target_rule"] == "history_mean_minus_sd"
    # value 5 / 12 = 0.4167; 0.4167 / 0.3333 = 1.25 -> capped at 1.2
    assert april["value"] == pytest.approx(5 / 12)
    assert april["score"] == pytest.approx(1.2)
    assert april["status"] == "green"
    # fewer than three earlier periods: the catalogue default 0.5 applies
    assert indicator(con, "c1_reports_per_1k", "2026-02-01", "month")["target"] == pytest.approx(0.5)


def test_repeat_report_share(con):
    # R02 repeats R01 (same POT cell, 1 day later) in January: 1 / 8
    assert indicator(con, "c1_repeat_report_share", "2026-01-01", "month")["value"] == pytest.approx(1 / 8)
    # R09 repeats R02 (27 days later) in February: 1 / 6; R30 (Jun) is > 30 days after R09: none
    assert indicator(con, "c1_repeat_report_share", "2026-02-01", "month")["value"] == pytest.approx(1 / 6)
    assert indicator(con, "c1_repeat_report_share", "2026-04-01", "quarter")["value"] == 0


def test_repeat_flag_edges_unit_test_ran_and_passed(warehouse: dict) -> None:
    """The dbt unit test of the repeat flag's edges (ties, the exact window end, missing keys) ran
    in the build: an excluded or renamed unit test must not pass silently."""
    results = json.loads((warehouse["tmp"] / "target" / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    unit_test = "unit_test.civicloop.int_feedback__requests_enriched.repeat_flag_edges"
    assert statuses.get(unit_test) == "pass", sorted(k for k in statuses if k.startswith("unit_test"))


def test_negative_report_share_from_sentiment(con):
    # fixture sentiment: -0.5 for a request still open, 0.25 once closed (every report has text).
    # January: R04, R08 open of 8 -> 2 / 8; target 0.5 until three earlier periods exist, lower is
    # better: 0.5 / 0.25 = 2, capped at 1.2
    january = indicator(con, "c1_negative_report_share", "2026-01-01", "month")
    assert january["value"] == pytest.approx(2 / 8) and january["n"] == 8
    assert january["target"] == pytest.approx(0.5) and january["score"] == pytest.approx(1.2)
    # Q1: R04, R08, R14, R18 open of 18
    assert indicator(con, "c1_negative_report_share", "2026-01-01", "quarter")["value"] == pytest.approx(
        4 / 18
    )
    # March: 4 scored reports < min n 5 -> suppressed
    march = indicator(con, "c1_negative_report_share", "2026-03-01", "month")
    assert march["value"] is None and march["status"] == "suppressed"


def test_positive_report_share_from_sentiment(con):
    # January: 6 of 8 closed -> 0.25 each -> positive; target 0.1: 0.75 / 0.1 capped at 1.2
    january = indicator(con, "c5_positive_report_share", "2026-01-01", "month")
    assert january["value"] == pytest.approx(6 / 8) and january["score"] == pytest.approx(1.2)
    # February: R14 open of 6 -> 5 / 6
    assert indicator(con, "c5_positive_report_share", "2026-02-01", "month")["value"] == pytest.approx(5 / 6)


def test_city_listens_weighted(con):
    # agree: even respondents = ten 75+ (weight 2) + ten 35-54 (weight 1): 30 / 50
    listens = indicator(con, "c1_city_listens", "2026-01-01", "quarter")
    assert listens["value"] == pytest.approx(0.6)
    assert listens["n"] == 40


# --- consideration 2 ------------------------------------------------------------------------


def test_underreporting_index(con):
    # Q1 reports per adult: D03 5/5,000 vs city 18/12,000 -> 0.667; weighted problem rate D03
    # 4/10 vs city 16/50 -> 1.25; index 0.667 / 1.25 = 0.5333, the lowest district -> city value
    city = indicator(con, "c2_underreporting_index", "2026-01-01", "quarter")
    assert city["value"] == pytest.approx(8 / 15)
    # D01: (8/4,000 / 0.0015) / ((7/25) / 0.32) = 1.3333 / 0.875 -> but n = 20 < 30: suppressed
    d01 = indicator(con, "c2_underreporting_index", "2026-01-01", "quarter", "D01")
    assert d01["status"] == "suppressed" and d01["value"] is None


def test_weighting_gap_and_digital_gap(con):
    # trust: unweighted 18/40 = 0.45, weighted 28/50 = 0.56
    assert indicator(con, "c2_weighting_gap", "2026-01-01", "quarter")["value"] == pytest.approx(0.11)
    # used_digital_channel: 18-34 eight of ten (5 and 25 lack access), 75+ none
    assert indicator(con, "c2_digital_takeup_gap", "2026-01-01", "quarter")["value"] == pytest.approx(0.8)


def _theil(values: list[float]) -> float:
    mu = sum(values) / len(values)
    return sum((x / mu) * math.log(x / mu) for x in values) / len(values)


def test_theil_matches_hand_computation(con):
    q1 = defaultdict(list)
    for _rid, opened, district, *_rest in REQUESTS:
        close_h = _rest[3]
        if opened < "2026-04" and close_h is not None:
            q1[district].append(float(close_h))
    values = [x for xs in q1.values() for x in xs]
    mu = sum(values) / len(values)
    between = sum(
        len(xs) / len(values) * (sum(xs) / len(xs) / mu) * math.log(sum(xs) / len(xs) / mu)
        for xs in q1.values()
    )
    theil = row(
        con,
        "select * from marts.equity_theil where grain = 'quarter' and period_start = ?",
        [date(2026, 1, 1)],
    )
    assert theil["n"] == len(values) == 14
    assert theil["theil_t"] == pytest.approx(_theil(values))
    assert theil["between_district"] == pytest.approx(between)
    assert theil["between_district"] + theil["within_district"] == pytest.approx(theil["theil_t"])
    value = indicator(con, "c2_theil_resolution", "2026-01-01", "quarter")
    assert value["value"] == pytest.approx(_theil(values))
    # Q2 has 9 closed requests < min_n 10
    assert indicator(con, "c2_theil_resolution", "2026-04-01", "quarter")["status"] == "suppressed"


def test_median_of_the_other_districts_is_the_plain_median(con):
    # The model finds it by position arithmetic instead of joining every district to the others'
    # requests; statistics.median over the others' requests is the definition it must meet.
    closed = con.execute(
        "select grain, period_start, service_code, district_code, resolution_hours "
        "from intermediate.int_equity__closed_requests_by_period"
    ).fetchall()
    groups: dict[tuple, list[tuple[str, float]]] = defaultdict(list)
    for grain, period_start, service_code, district_code, hours in closed:
        groups[(grain, period_start, service_code)].append((district_code, hours))
    expected = {}
    parities = set()
    for key, requests in groups.items():
        for district in {d for d, _ in requests}:
            own = [hours for d, hours in requests if d == district]
            others = [hours for d, hours in requests if d != district]
            if others:
                expected[(*key, district)] = (len(own), statistics.median(own), statistics.median(others))
                parities.add(len(others) % 2)
    built = {
        tuple(key): tuple(values)
        for *key, n, median_district, median_others in con.execute(
            "select grain, period_start, service_code, district_code, n_closed, median_district, "
            "median_others from intermediate.int_equity__district_service_medians"
        ).fetchall()
        for values in [(n, median_district, median_others)]
    }
    assert built.keys() == expected.keys()
    assert parities == {0, 1}  # odd counts (one middle) and even counts (two averaged) both occur
    for key, (n, median_district, median_others) in expected.items():
        assert built[key][0] == n
        assert built[key][1] == pytest.approx(median_district)
        assert built[key][2] == pytest.approx(median_others), key


# --- consideration 3 ------------------------------------------------------------------------


def test_kpi_indicators(con):
    # dto_headcount Q1: (8 + 9 + 10) / (10 + 10 + 10) = 0.9 -> score 0.9 -> amber
    headcount = indicator(con, "c3_dto_headcount_vs_plan", "2026-01-01", "quarter")
    assert headcount["value"] == pytest.approx(0.9)
    assert headcount["status"] == "amber"
    # cost per transaction January 4.0, lower is better: 6 / 4 = 1.5 -> capped 1.2
    cost = indicator(con, "c3_cost_per_transaction", "2026-01-01", "month")
    assert cost["value"] == pytest.approx(4.0)
    assert cost["score"] == pytest.approx(1.2)
    # April 7.0: 6 / 7 = 0.857 -> red
    april = indicator(con, "c3_cost_per_transaction", "2026-04-01", "month")
    assert april["score"] == pytest.approx(6 / 7) and april["status"] == "red"
    # staff trained January: mean(0.6 DTO, 0.4 DPW) = 0.5
    assert indicator(con, "c3_staff_trained_share", "2026-01-01", "month")["value"] == pytest.approx(0.5)


# --- consideration 4 ------------------------------------------------------------------------


def test_trust_and_survey_estimate(con):
    trust = indicator(con, "c4_trust", "2026-01-01", "quarter")
    assert trust["value"] == pytest.approx(0.56)
    assert trust["score"] == pytest.approx(1.12) and trust["status"] == "green"
    est = row(
        con, "select * from marts.survey_estimates where question_id = 'trust_city' and group_type = 'city'"
    )
    n_eff = 50**2 / 70  # sum w = 30 + 20, sum w^2 = 30 + 40
    assert est["n"] == 40
    assert est["unweighted"] == pytest.approx(0.45)
    assert est["weighted"] == pytest.approx(0.56)
    assert est["n_eff"] == pytest.approx(n_eff)
    assert est["design_effect"] == pytest.approx(40 / n_eff)
    half = 1.96 * math.sqrt(0.56 * 0.44 / n_eff)
    assert est["ci_low"] == pytest.approx(0.56 - half)
    assert est["ci_high"] == pytest.approx(0.56 + half)
    assert est["suppressed"] is False


def test_participation_coverage(con):
    # respondents per 1k: city 40/12 = 3.33 (half 1.67); D01 5.0, D02 4.0, D03 8/5 = 1.6 -> 2 of 3
    coverage = indicator(con, "c4_participation_coverage", "2026-01-01", "quarter")
    assert coverage["value"] == pytest.approx(2 / 3)


# --- consideration 5, targets and suppression -----------------------------------------------


def test_response_share_and_scoring(con):
    january = indicator(con, "c5_response_share", "2026-01-01", "month")
    # 6 of 8 January reports had a first response; 0.75 / 0.9 = 0.833 -> red
    assert january["value"] == pytest.approx(0.75)
    assert january["score"] == pytest.approx(0.75 / 0.9)
    assert january["status"] == "red"
    february = indicator(con, "c5_response_share", "2026-02-01", "month")
    assert february["score"] == pytest.approx(1 / 0.9) and february["status"] == "green"
    assert january["method_version"] == METHOD_VERSION


def test_suppression_rule(con):
    # March has 4 reports < min_n 5: value, target-based score NULL, status suppressed
    march = indicator(con, "c5_response_share", "2026-03-01", "month")
    assert march["n"] == 4
    assert march["value"] is None and march["score"] is None
    assert march["status"] == "suppressed"
    # survey district cells (D01 has 20 respondents < 30)
    d01 = indicator(con, "c4_trust", "2026-01-01", "quarter", "D01")
    assert d01["status"] == "suppressed" and d01["value"] is None
    est = row(
        con,
        "select * from marts.survey_estimates where question_id = 'trust_city' "
        "and group_type = 'district' and group_value = 'D01'",
    )
    assert est["suppressed"] is True and est["weighted"] is None and est["n"] == 20
    # no suppressed row anywhere carries a value
    leaks = con.execute(
        "select count(*) from marts.indicator_values "
        "where status = 'suppressed' and (value is not null or score is not null)"
    ).fetchone()[0]
    assert leaks == 0


def test_target_revision_applies_from_effective_from(con):
    # E1 (0.85) was corrected by E2 (0.70), both effective 2026-05-01
    april = indicator(con, "c5_response_share", "2026-04-01", "month")
    may = indicator(con, "c5_response_share", "2026-05-01", "month")
    assert april["target"] == pytest.approx(0.9) and april["target_rule"] == "fixed"
    assert may["target"] == pytest.approx(0.7) and may["target_rule"] == "review"
    # May: 4 of 5 responded; 0.8 / 0.7 = 1.143 -> green (0.8 / 0.85 would have been amber)
    assert may["score"] == pytest.approx(0.8 / 0.7) and may["status"] == "green"
    # the Q2 quarter starts 2026-04-01, before effective_from: default target
    assert indicator(con, "c5_response_share", "2026-04-01", "quarter")["target"] == pytest.approx(0.9)
    history = con.execute(
        "select version_number, target, effective_from, target_rule, entry_id "
        "from marts.indicator_targets_history where indicator_id = 'c5_response_share' "
        "order by version_number"
    ).fetchall()
    assert history == [
        (1, 0.9, date(2026, 1, 1), "fixed", None),
        (2, 0.7, date(2026, 5, 1), "review", "E2"),
    ]


# --- consideration 6 ------------------------------------------------------------------------


def test_review_indicators(con):
    # Q1 review first recorded 2026-04-10 (deadline 2026-05-15); Q2 on 2026-08-30 (> 2026-08-14)
    assert indicator(con, "c6_reviews_on_schedule", "2026-01-01", "quarter")["value"] == 1
    assert indicator(con, "c6_reviews_on_schedule", "2026-04-01", "quarter")["value"] == 0
    # actions due in Q2: E4 done on time, E5 still open -> 1 / 2
    assert indicator(con, "c6_actions_on_time", "2026-04-01", "quarter")["value"] == pytest.approx(0.5)
    # Q1 revision E2 has a rationale (E1 superseded); Q2's E6 has none
    assert indicator(con, "c6_targets_revised_with_reason", "2026-01-01", "quarter")["value"] == 1
    assert indicator(con, "c6_targets_revised_with_reason", "2026-04-01", "quarter")["value"] == 0
    actions = dict(con.execute("select entry_id, is_overdue from marts.review_actions").fetchall())
    assert actions == {"E4": False, "E5": True}


@pytest.mark.parametrize("quarter", ["2026-01-01", "2026-04-01"])
def test_share_on_target_counts_the_other_indicators(con, quarter):
    # Q2 also proves a retired indicator (c3_data_sharing_agreements, green in Q2) is left out
    others = con.execute(
        "select status from marts.indicator_values where scope = 'city' and grain = 'quarter' "
        "and period_start = ? and weight > 0 and indicator_id <> 'c6_share_on_target' "
        "and status <> 'suppressed' and not is_retired",
        [date.fromisoformat(quarter)],
    ).fetchall()
    green = sum(1 for (status,) in others if status == "green")
    share = indicator(con, "c6_share_on_target", quarter, "quarter")
    assert share["n"] == len(others) > 3
    assert share["value"] == pytest.approx(green / len(others))


# --- aggregate scores -----------------------------------------------------------------------


def test_consideration_and_composite_scores(con):
    values = con.execute(
        "select consideration, period_start, grain, weight, score from marts.indicator_values "
        "where scope = 'city' and status <> 'suppressed' and weight > 0 and not is_retired"
    ).fetchall()
    sums: dict = defaultdict(lambda: [0.0, 0.0])
    for consideration, period_start, grain, weight, score in values:
        sums[(consideration, period_start, grain)][0] += weight * score
        sums[(consideration, period_start, grain)][1] += weight
    scores = con.execute(
        "select consideration, period_start, grain, score, status from marts.consideration_scores"
    ).fetchall()
    assert scores
    for consideration, period_start, grain, score, status in scores:
        key = (consideration, period_start, grain)
        if key in sums:
            assert score == pytest.approx(sums[key][0] / sums[key][1])
            expected = "green" if score >= 1.0 else "amber" if score >= 0.9 else "red"
            assert status == expected
        else:
            assert score is None and status == "suppressed"
    q1 = [s for c, p, g, s, _ in scores if p == date(2026, 1, 1) and g == "quarter"]
    assert len(q1) == 6
    composite = row(
        con,
        "select * from marts.composite_scores where grain = 'quarter' and period_start = ?",
        [date(2026, 1, 1)],
    )
    assert composite["score"] == pytest.approx(sum(q1) / 6)
    assert composite["n_considerations"] == 6
    assert composite["method_version"] == METHOD_VERSION


# --- indicators not covered above -------------------------------------------------------------


def test_district_disparity_ratio(con):
    # Q1 closed requests (hours): POT D01 24, 48, 30 | D02 96, 60 | D03 120
    #   D03 120 / median(others 24, 48, 30, 96, 60) = 120 / 48 = 2.5 (the max); 6 closed
    # LIT D01 12, 10 | D02 72, 50 | D03 20: D02 61 / median(12, 10, 20) = 61 / 12; 5 closed
    # GRF D01 40 | D02 200 | D03 30: D02 200 / median(40, 30) = 200 / 35; 3 closed
    expected = (2.5 * 6 + 61 / 12 * 5 + 200 / 35 * 3) / 14
    q1 = indicator(con, "c2_district_disparity_ratio", "2026-01-01", "quarter")
    assert q1["n"] == 14
    assert q1["value"] == pytest.approx(expected)  # 4.111
    # lower is better: 1.25 / 4.111 = 0.304 -> red
    assert q1["score"] == pytest.approx(1.25 / expected) and q1["status"] == "red"
    # per district (marts.equity_district_resolution), D02 in Q1: closed 96, 72, 200, 60, 50 ->
    # median 72; ratios POT 78 / 39 (2 closed), LIT 61 / 12 (2), GRF 200 / 35 (1), volume-weighted
    d02 = row(
        con,
        "select * from marts.equity_district_resolution where grain = 'quarter' "
        "and period_start = ? and district_code = 'D02'",
        [date(2026, 1, 1)],
    )
    assert (d02["n_closed"], d02["median_resolution_hours"]) == (5, 72)
    assert d02["disparity_ratio"] == pytest.approx((2.0 * 2 + 61 / 12 * 2 + 200 / 35) / 5)


def test_more_kpi_indicators(con):
    # digital take-up Q1: mean(0.50, 0.52, 0.54) = 0.52; 0.52 / 0.6 = 0.867 -> red
    takeup = indicator(con, "c3_digital_takeup", "2026-01-01", "quarter")
    assert takeup["value"] == pytest.approx(0.52) and takeup["status"] == "red"
    # completion rate Q2: mean(0.83, 0.84, 0.85) = 0.84; 0.84 / 0.8 = 1.05 -> green
    completion = indicator(con, "c3_completion_rate", "2026-04-01", "quarter")
    assert completion["value"] == pytest.approx(0.84) and completion["score"] == pytest.approx(1.05)
    # data-sharing agreements: sum over agencies of the latest month: Q1 -> March 4; 4 / 5 = 0.8
    agreements = indicator(con, "c3_data_sharing_agreements", "2026-01-01", "quarter")
    assert agreements["value"] == 4 and agreements["score"] == pytest.approx(0.8)
    # referrals resolved Q1: mean(0.70, 0.75, 0.80) = 0.75; 0.75 / 0.8 = 0.9375 -> amber
    referrals = indicator(con, "c5_referrals_resolved_share", "2026-01-01", "quarter")
    assert referrals["value"] == pytest.approx(0.75) and referrals["status"] == "amber"


def test_satisfaction_gap_and_consultation(con):
    # satisfied_services by age band (weights equal within a band): 18-34 agree 1, 5, 9, 13, 17
    # of ten -> 0.5; 35-54 agree 2, 6 -> 0.2; 55-74 all -> 1.0; 75+ none -> 0.0; gap 1.0 - 0.0
    gap = indicator(con, "c4_satisfaction_gap", "2026-01-01", "quarter")
    assert gap["value"] == pytest.approx(1.0) and gap["n"] == 40
    assert gap["score"] == pytest.approx(0.15) and gap["status"] == "red"  # 0.15 / 1.0
    # took part: respondents 1, 2, 3 (weight 1) and 4 (75+, weight 2): 5 / 50 = 0.1 = target
    took_part = indicator(con, "c4_consultation_participation", "2026-01-01", "quarter")
    assert took_part["value"] == pytest.approx(0.1)
    assert took_part["score"] == pytest.approx(1.0) and took_part["status"] == "green"


def test_response_time_reopen_and_fix_confirmation(con):
    # January hours to first response: 4, 2, 1, 6, 8, 3 (R06, R08 none) -> median 3.5
    hours = indicator(con, "c5_median_hours_to_respond", "2026-01-01", "month")
    assert hours["value"] == pytest.approx(3.5) and hours["n"] == 6
    assert hours["score"] == pytest.approx(1.2)  # 24 / 3.5 = 6.9, capped
    # Q1: 14 closed, reopened R03 and R12 -> 2 / 14; lower is better: 0.1 / (1/7) = 0.7 -> red
    reopen = indicator(con, "c5_reopen_rate", "2026-01-01", "quarter")
    assert reopen["value"] == pytest.approx(1 / 7) and reopen["n"] == 14
    assert reopen["score"] == pytest.approx(0.7) and reopen["status"] == "red"
    # Q1 closed and asked: 12 (R06, R11 not asked); confirmed R01 R02 R05 R09 R10 R12 R13 R15 R17
    fixed = indicator(con, "c5_fixed_confirmation_rate", "2026-01-01", "quarter")
    assert fixed["value"] == pytest.approx(9 / 12) and fixed["n"] == 12
    assert fixed["score"] == pytest.approx(0.75 / 0.8) and fixed["status"] == "amber"


# --- retirement, weight sensitivity, target snapshots ----------------------------------------


def test_retired_indicator_leaves_the_scores_from_its_effective_date(con):
    # E7 retires c3_data_sharing_agreements from 2026-04-01
    catalog = dict(con.execute("select indicator_id, retired_from from marts.indicator_catalog").fetchall())
    assert catalog.pop("c3_data_sharing_agreements") == date(2026, 4, 1)
    assert set(catalog.values()) == {None}
    q1 = indicator(con, "c3_data_sharing_agreements", "2026-01-01", "quarter")
    q2 = indicator(con, "c3_data_sharing_agreements", "2026-04-01", "quarter")
    assert q1["is_retired"] is False
    # still computed and shown (June: 6 agreements, capped score) but flagged
    assert q2["is_retired"] is True and q2["value"] == 6 and q2["status"] == "green"
    # Q2 consideration 3 = mean of the five others: headcount 33/36, trained 0.58/0.6,
    # cost 6/6.5, take-up 0.58/0.6, completion 0.84/0.8 (with the retired one it would be higher)
    five = [33 / 36 / 1.0, 0.58 / 0.6, 6 / 6.5, 0.58 / 0.6, 0.84 / 0.8]
    c3 = row(
        con,
        "select score, n_indicators from marts.consideration_scores "
        "where consideration = 3 and grain = 'quarter' and period_start = ?",
        [date(2026, 4, 1)],
    )
    assert c3["n_indicators"] == 5
    assert c3["score"] == pytest.approx(sum(five) / 5)
    # Q1 still counts it: six indicators
    assert (
        row(
            con,
            "select n_indicators from marts.consideration_scores where consideration = 3 "
            "and grain = 'quarter' and period_start = ?",
            [date(2026, 1, 1)],
        )["n_indicators"]
        == 6
    )


def test_weight_sensitivity(con):
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select weighting, score, change_from_catalogue, n_considerations, dropped_consideration "
            "from marts.weight_sensitivity where grain = 'quarter' and period_start = ?",
            [date(2026, 1, 1)],
        ).fetchall()
    }
    assert set(rows) == {
        "catalogue",
        "equal_within",
        "equal_indicators",
        *(f"drop_consideration_{c}" for c in range(1, 7)),
    }
    composite = row(
        con,
        "select score from marts.composite_scores where grain = 'quarter' and period_start = ?",
        [date(2026, 1, 1)],
    )["score"]
    assert rows["catalogue"][0] == pytest.approx(composite) and rows["catalogue"][1] == 0
    considerations = dict(
        con.execute(
            "select consideration, score from marts.consideration_scores where grain = 'quarter' "
            "and period_start = ?",
            [date(2026, 1, 1)],
        ).fetchall()
    )
    for c in range(1, 7):
        others = [s for k, s in considerations.items() if k != c]
        score, change, n, dropped = rows[f"drop_consideration_{c}"]
        assert (dropped, n) == (c, 5)
        assert score == pytest.approx(sum(others) / 5)
        assert change == pytest.approx(score - composite)
    # every scored catalogue weight is 1, so equal weights within considerations change nothing
    assert rows["equal_within"][0] == pytest.approx(composite)
    scores = [
        s
        for (s,) in con.execute(
            "select score from marts.indicator_values where scope = 'city' and grain = 'quarter' "
            "and period_start = ? and weight > 0 and status <> 'suppressed' and not is_retired",
            [date(2026, 1, 1)],
        ).fetchall()
    ]
    assert rows["equal_indicators"][0] == pytest.approx(sum(scores) / len(scores))


def test_target_snapshot_records_revisions_between_builds(warehouse, con, tmp_path):
    # after one build: one current snapshot row per target version
    log = con.execute(
        "select target_version_key, target, is_current from marts.indicator_targets_log"
    ).fetchall()
    versions = con.execute("select count(*) from marts.indicator_targets_history").fetchone()[0]
    with (PROJECT_DIR / "seeds" / "seed_indicator_catalog.csv").open(encoding="utf-8") as f:
        catalogue_size = sum(1 for _ in csv.DictReader(f))
    # one default version per catalogue indicator + the fixture's two review revisions
    assert len(log) == versions == catalogue_size + 2 and all(current for _, _, current in log)
    # a later review corrects E6 (5.5 -> 5.0): snapshot again on a copy of the warehouse
    db_path = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse["db_path"], db_path)
    with duckdb.connect(str(db_path)) as copy:
        copy.execute(
            "insert into raw.review_decisions (entry_id, recorded_at, recorded_by, review_quarter, "
            "indicator_id, decision, new_target, effective_from, rationale, corrects_entry_id) "
            "values ('E8', '2026-09-02 09:00:00', 'review board', '2026Q2', "
            "'c3_cost_per_transaction', 'revise_target', 5.0, '2026-07-01', 'Board minute', 'E6')"
        )
    result = run_dbt(
        db_path,
        tmp_path,
        "build",
        "--select",
        "int_reviews__decisions_effective+1 indicator_targets_snapshot+",
    )
    assert result.success, result.exception
    with duckdb.connect(str(db_path), read_only=True) as copy:
        slot = copy.execute(
            "select target, entry_id, is_current, snapshot_valid_to is null "
            "from marts.indicator_targets_log "
            "where target_version_key = 'c3_cost_per_transaction@2026-07-01' "
            "order by snapshot_valid_from"
        ).fetchall()
        assert slot == [(5.5, "E6", False, False), (5.0, "E8", True, True)]
        # the diff of the two builds: what the second build changed
        changed = copy.execute(
            "select count(*) from marts.indicator_targets_log where snapshot_valid_from > "
            "(select min(snapshot_valid_from) from marts.indicator_targets_log)"
        ).fetchone()[0]
        assert changed == 1


# --- other marts ----------------------------------------------------------------------------


def test_feedback_funnel_and_districts(con):
    jan = row(
        con,
        "select * from marts.feedback_funnel where grain = 'month' and scope = 'city' and period_start = ?",
        [date(2026, 1, 1)],
    )
    # January: 8 received, 6 responded, 6 closed (R04, R08 open), 3 confirmed (R01, R02, R05)
    assert (jan["received"], jan["responded"], jan["resolved"], jan["confirmed_fixed"]) == (8, 6, 6, 3)
    # D03 has no report in June: a zero row exists
    june_d03 = row(
        con,
        "select received from marts.feedback_funnel where grain = 'month' "
        "and scope = 'D03' and period_start = ?",
        [date(2026, 6, 1)],
    )
    assert june_d03["received"] == 0
    populations = dict(con.execute("select district_code, population from marts.districts").fetchall())
    assert populations == {"D01": 4000, "D02": 3000, "D03": 5000}


def test_source_freshness_is_relative_to_newest_data(con):
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select source, is_stale, as_of_date, last_loaded_at, expected_cadence_days "
            "from marts.source_freshness"
        ).fetchall()
    }
    # newest data is the Q2 review recorded 2026-08-30; feedback ended 2026-06-12 (cadence 1 day)
    assert rows["reviews"][:2] == (False, date(2026, 8, 30))
    assert rows["feedback"][0] is True
    assert rows["feedback"][2] == datetime(2026, 6, 13, 6, 0)
    assert {k: v[3] for k, v in rows.items()} == {"feedback": 1, "kpis": 31, "survey": 92, "reviews": 92}


# --- documentation --------------------------------------------------------------------------


def test_every_model_and_mart_column_is_documented(warehouse, con):
    nodes = warehouse["manifest"]["nodes"].values()
    models = [n for n in nodes if n["resource_type"] == "model" and n["package_name"] == "civicloop"]
    assert len(models) > 30
    undocumented = [n["name"] for n in models if not n["description"].strip()]
    assert undocumented == []
    marts = {n["name"]: n for n in models if n["schema"] == "marts"}
    assert set(MARTS) <= set(marts)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"] is True, name
        table_columns = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = ?",
                [name],
            ).fetchall()
        ]
        assert table_columns, name
        for column in table_columns:
            doc = node["columns"].get(column, {}).get("description", "")
            assert doc.strip(), f"marts.{name}.{column} has no description"


def test_catalogue_says_who_set_each_target_when_and_why(con):
    rows = con.execute(
        "select indicator_id, target_set_by, target_set_on, target_reason from marts.indicator_catalog"
    ).fetchall()
    with (PROJECT_DIR / "seeds" / "seed_indicator_catalog.csv").open(encoding="utf-8") as f:
        seed = {r["indicator_id"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(seed)
    for indicator_id, set_by, set_on, reason in rows:
        assert (set_by, set_on.isoformat(), reason) == (
            seed[indicator_id]["target_set_by"],
            seed[indicator_id]["target_set_on"],
            seed[indicator_id]["target_reason"],
        ), indicator_id
    assert dict((r[0], r[3]) for r in rows)["c1_reports_per_1k"].startswith("Boston CityScore style")


def test_contract_columns_present(con):
    required = {
        "indicator_catalog": {
            "indicator_id",
            "consideration",
            "name",
            "definition",
            "unit",
            "direction",
            "weight",
            "target_rule",
            "formula",
            "source",
            "min_n",
            "default_target",
            "target_set_by",
            "target_set_on",
            "target_reason",
        },
        "indicator_values": {
            "indicator_id",
            "period_start",
            "grain",
            "scope",
            "value",
            "target",
            "score",
            "status",
            "n",
            "method_version",
        },
        "consideration_scores": {
            "consideration",
            "period_start",
            "grain",
            "score",
            "status",
            "method_version",
        },
        "composite_scores": {"period_start", "grain", "score", "status", "method_version"},
        "districts": {"district_code", "district_name", "population", "digital_access_rate", "geometry_json"},
        "indicator_targets_history": {
            "indicator_id",
            "target",
            "effective_from",
            "target_rule",
            "set_by",
            "set_at",
            "reason",
        },
        "feedback_funnel": {
            "period_start",
            "grain",
            "scope",
            "received",
            "responded",
            "resolved",
            "confirmed_fixed",
        },
        "feedback_text_trends": {"period_start", "scope", "topic_label", "n", "mean_sentiment"},
        "resident_comments": {
            "request_id",
            "opened_at",
            "district_code",
            "category",
            "channel",
            "status",
            "description",
            "sentiment",
            "topic_label",
        },
        "survey_estimates": {
            "period_start",
            "question_id",
            "consideration",
            "group_type",
            "group_value",
            "n",
            "unweighted",
            "weighted",
            "n_eff",
            "design_effect",
            "ci_low",
            "ci_high",
            "suppressed",
        },
        "review_actions": {
            "entry_id",
            "review_quarter",
            "indicator_id",
            "action_text",
            "action_owner",
            "action_due",
            "action_status",
            "action_completed_on",
            "is_overdue",
        },
        "source_freshness": {
            "source",
            "last_loaded_at",
            "latest_data_at",
            "expected_cadence_days",
            "is_stale",
        },
    }
    for table, columns in required.items():
        present = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = ?",
                [table],
            ).fetchall()
        }
        assert columns <= present, f"marts.{table} lacks {columns - present}"


def test_every_catalogue_indicator_has_a_hand_computed_test(warehouse):
    """Fails when an indicator in seeds/seed_indicator_catalog.csv is not asserted in this file
    through `indicator(con, "<id>", ...)`."""
    with (PROJECT_DIR / "seeds" / "seed_indicator_catalog.csv").open(encoding="utf-8") as f:
        catalogue = {r["indicator_id"] for r in csv.DictReader(f)}
    source = Path(__file__).read_text(encoding="utf-8")
    tested = set(re.findall(r'indicator\(con, "([a-z0-9_]+)"', source))
    assert catalogue - tested == set(), "catalogue indicators without a fixture test"
    assert tested - catalogue == set(), "tests of indicators not in the catalogue"


def test_method_version_on_every_mart(con):
    marts = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    ]
    assert set(MARTS) <= set(marts)
    for table in marts:
        versions = con.execute(f'select distinct method_version from marts."{table}"').fetchall()
        assert versions in ([(METHOD_VERSION,)], []), table


# --- freshness --------------------------------------------------------------------------------


def test_only_the_newest_values_of_stale_sources_are_marked_stale(con) -> None:
    stale_sources = {
        source
        for (source,) in con.execute("select source from marts.source_freshness where is_stale").fetchall()
    }
    # The fixture's review register runs past the other sources' data, so those are behind it.
    assert stale_sources == {"feedback", "kpis", "survey"}
    marked = set(
        con.execute(
            "select indicator_id, grain, period_start from marts.indicator_values where is_stale"
        ).fetchall()
    )
    expected = set(
        con.execute(
            """
            select v.indicator_id, v.grain, max(v.period_start)
            from marts.indicator_values as v
            inner join seeds.seed_indicator_catalog as c using (indicator_id)
            where list_has_any(string_split(c.source, '+'), ?::varchar[])
            group by v.indicator_id, v.grain
            """,
            [sorted(stale_sources)],
        ).fetchall()
    )
    assert marked == expected
    assert ("c5_response_share", "month") in {(i, g) for i, g, _ in marked}
    assert not any(i.startswith("c6_") for i, _, _ in marked)  # the register itself is fresh
