"""Integration tests of the dbt project: one real `dbt build` over the hand-made raw fixture.

Expected values are worked out by hand from tests/dbt_fixture.py (arithmetic in the comments).
"""

from __future__ import annotations

import json
import math
import os
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
    "indicator_catalog", "indicator_values", "consideration_scores", "composite_scores",
    "districts", "indicator_targets_history", "feedback_funnel", "feedback_text_trends",
    "resident_comments", "survey_estimates", "review_actions", "equity_theil", "source_freshness",
)


def _close_dbt_duckdb_environment() -> None:
    """dbt-duckdb keeps its DuckDB instance open in-process after `invoke`; close it so the test
    can open the file itself (DuckDB refuses a second configuration of an open file)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the fixture warehouse and run `dbt build` once for the whole module."""
    from dbt.cli.main import dbtRunner

    tmp = tmp_path_factory.mktemp("dbt")
    db_path = tmp / "warehouse.duckdb"
    build_raw_fixture(db_path)
    target_path = tmp / "target"
    env = {
        "CIVICLOOP_WAREHOUSE_PATH": str(db_path),
        "CIVICLOOP_DUCKDB_MEMORY_LIMIT": "1GB",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result = dbtRunner().invoke([
            "build",
            "--project-dir", str(PROJECT_DIR),
            "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(target_path),
            "--log-path", str(tmp / "logs"),
            "--quiet",
        ])
    finally:
        _close_dbt_duckdb_environment()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    failures = []
    if result.result is not None:
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in result.result
            if str(r.status) not in ("success", "pass")
        ]
    assert result.success, f"dbt build failed: {result.exception} {failures}"
    manifest = json.loads((target_path / "manifest.json").read_text())
    return {"db_path": db_path, "manifest": manifest}


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
    theil = row(con, "select * from marts.equity_theil where grain = 'quarter' and period_start = ?",
                [date(2026, 1, 1)])
    assert theil["n"] == len(values) == 14
    assert theil["theil_t"] == pytest.approx(_theil(values))
    assert theil["between_district"] == pytest.approx(between)
    assert theil["between_district"] + theil["within_district"] == pytest.approx(theil["theil_t"])
    value = indicator(con, "c2_theil_resolution", "2026-01-01", "quarter")
    assert value["value"] == pytest.approx(_theil(values))
    # Q2 has 9 closed requests < min_n 10
    assert indicator(con, "c2_theil_resolution", "2026-04-01", "quarter")["status"] == "suppressed"


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
    est = row(con, "select * from marts.survey_estimates where question_id = 'trust_city' "
                   "and group_type = 'city'")
    n_eff = 50 ** 2 / 70  # sum w = 30 + 20, sum w^2 = 30 + 40
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
    assert january["method_version"] == "1.0"


def test_suppression_rule(con):
    # March has 4 reports < min_n 5: value, target-based score NULL, status suppressed
    march = indicator(con, "c5_response_share", "2026-03-01", "month")
    assert march["n"] == 4
    assert march["value"] is None and march["score"] is None
    assert march["status"] == "suppressed"
    # survey district cells (D01 has 20 respondents < 30)
    d01 = indicator(con, "c4_trust", "2026-01-01", "quarter", "D01")
    assert d01["status"] == "suppressed" and d01["value"] is None
    est = row(con, "select * from marts.survey_estimates where question_id = 'trust_city' "
                   "and group_type = 'district' and group_value = 'D01'")
    assert est["suppressed"] is True and est["weighted"] is None and est["n"] == 20
    # no suppressed row anywhere carries a value
    leaks = con.execute("select count(*) from marts.indicator_values "
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


def test_share_on_target_counts_the_other_indicators(con):
    others = con.execute(
        "select status from marts.indicator_values where scope = 'city' and grain = 'quarter' "
        "and period_start = ? and weight > 0 and indicator_id <> 'c6_share_on_target' "
        "and status <> 'suppressed'", [date(2026, 1, 1)],
    ).fetchall()
    green = sum(1 for (status,) in others if status == "green")
    share = indicator(con, "c6_share_on_target", "2026-01-01", "quarter")
    assert share["n"] == len(others) > 3
    assert share["value"] == pytest.approx(green / len(others))


# --- aggregate scores -----------------------------------------------------------------------


def test_consideration_and_composite_scores(con):
    values = con.execute(
        "select consideration, period_start, grain, weight, score from marts.indicator_values "
        "where scope = 'city' and status <> 'suppressed' and weight > 0"
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
    composite = row(con, "select * from marts.composite_scores where grain = 'quarter' "
                         "and period_start = ?", [date(2026, 1, 1)])
    assert composite["score"] == pytest.approx(sum(q1) / 6)
    assert composite["n_considerations"] == 6
    assert composite["method_version"] == "1.0"


# --- other marts ----------------------------------------------------------------------------


def test_feedback_funnel_and_districts(con):
    jan = row(con, "select * from marts.feedback_funnel where grain = 'month' and scope = 'city' "
                   "and period_start = ?", [date(2026, 1, 1)])
    # January: 8 received, 6 responded, 6 closed (R04, R08 open), 3 confirmed (R01, R02, R05)
    assert (jan["received"], jan["responded"], jan["resolved"], jan["confirmed_fixed"]) == (8, 6, 6, 3)
    # D03 has no report in June: a zero row exists
    june_d03 = row(con, "select received from marts.feedback_funnel where grain = 'month' "
                        "and scope = 'D03' and period_start = ?", [date(2026, 6, 1)])
    assert june_d03["received"] == 0
    populations = dict(con.execute("select district_code, population from marts.districts").fetchall())
    assert populations == {"D01": 4000, "D02": 3000, "D03": 5000}


def test_source_freshness_is_relative_to_newest_data(con):
    rows = {r[0]: r[1:] for r in con.execute(
        "select source, is_stale, as_of_date, last_loaded_at, expected_cadence_days "
        "from marts.source_freshness").fetchall()}
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
        table_columns = [r[0] for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?", [name]).fetchall()]
        assert table_columns, name
        for column in table_columns:
            doc = node["columns"].get(column, {}).get("description", "")
            assert doc.strip(), f"marts.{name}.{column} has no description"


def test_contract_columns_present(con):
    required = {
        "indicator_catalog": {"indicator_id", "consideration", "name", "definition", "unit",
                              "direction", "weight", "target_rule", "formula", "source", "min_n",
                              "default_target"},
        "indicator_values": {"indicator_id", "period_start", "grain", "scope", "value", "target",
                             "score", "status", "n", "method_version"},
        "consideration_scores": {"consideration", "period_start", "grain", "score", "status",
                                 "method_version"},
        "composite_scores": {"period_start", "grain", "score", "status", "method_version"},
        "districts": {"district_code", "district_name", "population", "digital_access_rate",
                      "geometry_json"},
        "indicator_targets_history": {"indicator_id", "target", "effective_from", "target_rule",
                                      "set_by", "set_at", "reason"},
        "feedback_funnel": {"period_start", "grain", "scope", "received", "responded", "resolved",
                            "confirmed_fixed"},
        "feedback_text_trends": {"period_start", "scope", "topic_label", "n", "mean_sentiment"},
        "resident_comments": {"request_id", "opened_at", "district_code", "category", "channel",
                              "status", "description", "sentiment", "topic_label"},
        "survey_estimates": {"period_start", "question_id", "consideration", "group_type",
                             "group_value", "n", "unweighted", "weighted", "n_eff",
                             "design_effect", "ci_low", "ci_high", "suppressed"},
        "review_actions": {"entry_id", "review_quarter", "indicator_id", "action_text",
                           "action_owner", "action_due", "action_status", "action_completed_on",
                           "is_overdue"},
        "source_freshness": {"source", "last_loaded_at", "latest_data_at", "expected_cadence_days",
                             "is_stale"},
    }
    for table, columns in required.items():
        present = {r[0] for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ?", [table]).fetchall()}
        assert columns <= present, f"marts.{table} lacks {columns - present}"
