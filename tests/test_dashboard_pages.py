"""AppTest for every page file of the dashboard, against the fixture snapshot.

AppTest does not drive ``st.navigation``: each page file runs on its own with
``CIVICLOOP_DATA_DIR`` pointing at a temporary folder holding the fixture snapshot.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_fixture import (  # noqa: E402
    BIG_MOVE_INDICATOR,
    LATEST_QUARTER,
    RED_TWICE_INDICATOR,
    SCRIPT_COMMENT,
    STALE_SOURCE,
    build_published_fixture,
)
from streamlit.testing.v1 import AppTest  # noqa: E402

PAGES = REPO / "dashboards" / "app_pages"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("civicloop_data")
    build_published_fixture(root / "published" / "civicloop.duckdb")
    return root


@pytest.fixture()
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIVICLOOP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CIVICLOOP_EDITORS_FILE", raising=False)
    return data_dir


def snapshot(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "published" / "civicloop.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def run_page(name: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def all_text(at: AppTest) -> str:
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "info",
        "warning",
        "success",
        "error",
        "text",
    ):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    return "\n".join(parts)


def frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


# --- overview -----------------------------------------------------------------------------


def test_overview_shows_six_considerations_with_fixture_scores(env: Path) -> None:
    at = run_page("overview.py")
    latest = snapshot(
        env,
        "select consideration, score from marts.consideration_scores "
        "where period_start = ? order by consideration",
        [LATEST_QUARTER],
    )
    prev = dict(
        snapshot(
            env,
            "select consideration, score from marts.consideration_scores "
            "where period_start = (select max(period_start) from marts.consideration_scores "
            "where period_start < ?)",
            [LATEST_QUARTER],
        )
    )
    metrics = {m.label: m for m in at.metric}
    cons_metrics = [m for label, m in metrics.items() if label[0].isdigit()]
    assert len(cons_metrics) == 6
    for number, score in latest:
        metric = next(m for m in cons_metrics if m.label.startswith(f"{number}."))
        assert metric.value == f"{100 * score:.1f}"
        assert metric.delta == f"{100 * (score - prev[number]):+.1f} pts vs last quarter"
    composite = snapshot(
        env, "select score from marts.composite_scores where period_start = ?", [LATEST_QUARTER]
    )[0][0]
    assert metrics["Composite score"].value == f"{100 * composite:.1f}"
    text = all_text(at)
    # status in words, not colour alone
    assert "Near target (amber)" in text and "On target (green)" in text
    # freshness banner names the stale source
    assert any(STALE_SOURCE in w.value for w in at.warning)


def test_overview_best_and_worst_five(env: Path) -> None:
    at = run_page("overview.py")
    best, worst = frames(at)[:2]
    assert len(best) == 5 and len(worst) == 5
    expected_worst = [
        r[0]
        for r in snapshot(
            env,
            "select indicator_id from marts.indicator_values where scope = 'city' and "
            "period_start = ? and score is not null order by score, indicator_id limit 5",
            [LATEST_QUARTER],
        )
    ]
    names = dict(snapshot(env, "select indicator_id, name from marts.indicator_catalog"))
    assert list(worst["Indicator"]) == [names[i] for i in expected_worst]  # names, not ids
    assert RED_TWICE_INDICATOR in expected_worst
    assert best["Score"].astype(float).min() >= worst["Score"].astype(float).max()
    assert any("mean of 6 of the 6" in c.value for c in at.caption)  # n_considerations


def test_overview_period_from_url(env: Path) -> None:
    at = run_page("overview.py", {"period": "2024Q3"})
    score = snapshot(
        env,
        "select score from marts.consideration_scores where consideration = 1 "
        "and period_start = '2024-07-01'",
    )[0][0]
    metric = next(m for m in at.metric if m.label.startswith("1."))
    assert metric.value == f"{100 * score:.1f}"
    assert at.query_params["period"] == ["2024Q3"] or at.query_params["period"] == "2024Q3"


def test_page_without_snapshot_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(str(PAGES / "overview.py"), default_timeout=60).run()
    assert not at.exception
    assert "No published snapshot" in at.error[0].value


# --- consideration ------------------------------------------------------------------------


def test_consideration_page_indicators_targets_and_suppression(env: Path) -> None:
    at = run_page("consideration.py", {"consideration": "2", "period": "2025Q4"})
    subheaders = [s.value for s in at.subheader]
    assert subheaders == [
        "Reopen rate",
        "Fix confirmed by resident",
        "Repeat requests at same address",
    ]  # names, ids in the caption
    text = all_text(at)
    assert "Indicator C2_03" in text
    assert "Fix confirmed by resident per quarter" in text  # definition
    # D03 is suppressed for C2_03: shown as "suppressed (n<40)", never as 0
    c2_03_districts = frames(at)[2]
    d03 = c2_03_districts[c2_03_districts["District"] == "Old Mill"].iloc[0]
    assert d03["Value"] == "suppressed (n<40)"
    assert d03["Score"] == "—"
    assert len(c2_03_districts) == 3  # every district row, none hidden behind a scroll
    # a trend chart with a target line and a geoshape map per indicator
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 6
    trend = json.dumps(specs[0])
    assert '"strokeDash"' in trend and '"target"' in trend
    assert "2025Q4" in trend  # quarters labelled as quarters, not as month names
    assert '"geoshape"' in json.dumps(specs[1])


def test_consideration_page_marks_a_stale_newest_value(env: Path) -> None:
    at = run_page("consideration.py", {"consideration": "1", "period": "2025Q4"})
    warnings = [w.value for w in at.warning]
    assert len([w for w in warnings if w.startswith("Not current")]) == 1  # C1_03 only
    earlier = run_page("consideration.py", {"consideration": "1", "period": "2025Q3"})
    assert not [w.value for w in earlier.warning if w.value.startswith("Not current")]


def test_consideration_page_target_history_who_when_why(env: Path) -> None:
    at = run_page("consideration.py", {"consideration": "1", "period": "2025Q4"})
    text = all_text(at)
    # the revision is in force in 2025Q4: value, who, when, why
    assert "Target in 2025Q4: 8 days" in text
    assert "revised by a.okafor on 2025-06-20, effective 2025-07-01" in text
    assert "Sustained over-performance" in text
    # the catalogue default is dated after the data but applies before the first revision
    assert "Target in 2025Q4: 2 days** — catalogue default" in text  # C1_01, never revised
    history = at.table[2].value  # C1_03: default, then the revision
    assert list(history.index) == ["10 days", "8 days"]
    assert list(history["Set by"]) == ["catalogue", "a.okafor"]
    assert list(history["Effective from"]) == ["start (default)", "2025-07-01"]
    # the selection is kept in the URL
    assert at.query_params["consideration"] in ("1", ["1"])


def test_consideration_page_default_target_before_revision(env: Path) -> None:
    at = run_page("consideration.py", {"consideration": "1", "period": "2025Q2"})
    text = all_text(at)
    assert "Target in 2025Q2: 10 days** — catalogue default" in text
    assert "Next: 8 days from 2025-07-01 (set by a.okafor)." in text


# --- equity -------------------------------------------------------------------------------


def test_equity_page(env: Path) -> None:
    at = run_page("equity.py", {"period": "2025Q4"})
    ratios = frames(at)[0]
    expected = snapshot(
        env,
        "select max(score) / min(score) from marts.indicator_values where period_start = ? "
        "and indicator_id = 'C1_01' and scope <> 'city'",
        [LATEST_QUARTER],
    )[0][0]
    row = ratios[ratios["Indicator"] == "Median days to first response"].iloc[0]
    assert row["Disparity ratio"] == round(expected, 2)
    assert "(" in row["Best district"] and not row["Best district"].startswith("D0")  # names
    c2_03 = ratios[ratios["Indicator"] == "Repeat requests at same address"].iloc[0]
    assert c2_03["Suppressed districts"] == 1
    rates = frames(at)[1]
    received, pop = snapshot(
        env,
        "select f.received, d.population from marts.feedback_funnel f join marts.districts d "
        "on d.district_code = f.scope where f.period_start = ? and f.scope = 'D03'",
        [LATEST_QUARTER],
    )[0]
    assert rates.iloc[2]["Per 1,000 adults"] == round(1000 * received / pop, 1)
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert '"geoshape"' in json.dumps(specs[1])
    assert any("Age: 75+" in c.value for c in at.caption)  # suppressed group named


def test_equity_page_theil_between_within_for_the_quarter(env: Path) -> None:
    at = run_page("equity.py", {"period": "2025Q4"})
    between, within, total = snapshot(
        env,
        "select between_district, within_district, theil_t from marts.equity_theil "
        "where grain = 'quarter' and period_start = ?",
        [LATEST_QUARTER],
    )[0]
    metrics = {m.label: m for m in at.metric}
    assert metrics["Theil T"].value == f"{total:.3f}"
    assert metrics["Between districts"].value == f"{between:.3f}"
    assert metrics["Within districts"].value == f"{within:.3f}"
    assert metrics["Between districts"].delta == f"{between / total:.0%} of T"
    # the split over time: quarter rows only (the month rows of the mart are left out)
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[0].proto
    values = pa.ipc.open_stream(chart.datasets[0].data.data).read_pandas()
    assert set(values["part"]) == {"Between districts", "Within districts"}
    assert len(values) == 2 * 8 and values["quarter"].str.fullmatch(r"\d{4}Q[1-4]").all()
    assert values["contribution"].sum() == pytest.approx(
        sum(r[0] for r in snapshot(env, "select theil_t from marts.equity_theil where grain = 'quarter'"))
    )
    assert not any("equity_theil" in i.value for i in at.info)


def test_equity_page_without_theil_table_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "published" / "civicloop.duckdb"
    build_published_fixture(db)
    con = duckdb.connect(str(db))
    con.execute("drop table marts.equity_theil")
    con.close()
    monkeypatch.setenv("CIVICLOOP_DATA_DIR", str(tmp_path))
    at = run_page("equity.py", {"period": "2025Q4"})
    assert any("equity_theil" in i.value for i in at.info)


# --- resident voice -----------------------------------------------------------------------


def test_resident_voice_search_escapes_and_funnel(env: Path) -> None:
    at = run_page("resident_voice.py")
    assert len(frames(at)) == 1  # comments are not read on load, only the funnel is shown
    at.button(key="show_latest_button").click().run()
    comments = frames(at)[0]
    assert len(comments) == 40
    at.text_input(key="comment_search").input("<script>").run()
    assert not at.exception
    found = frames(at)[0]
    assert list(found["Comment"]) == [SCRIPT_COMMENT]  # as text, in a dataframe cell
    for kind in ("markdown", "caption", "text"):
        assert all("<script>" not in str(e.value) for e in at.get(kind))
    assert at.query_params["q"] in ("<script>", ["<script>"])
    # literal search: % is not a wildcard
    at.text_input(key="comment_search").input("%").run()
    assert frames(at)[0].empty
    funnel = frames(at)[1]
    latest = snapshot(
        env,
        "select received, confirmed_fixed from marts.feedback_funnel "
        "where scope = 'city' and period_start = ?",
        [LATEST_QUARTER],
    )[0]
    assert list(funnel.iloc[-1][["Received", "Confirmed fixed"]]) == list(latest)
    assert len(at.get("vega_lite_chart")) == 2


def test_resident_voice_district_filter_from_url(env: Path) -> None:
    at = run_page("resident_voice.py", {"district": "D02"})
    at.button(key="show_latest_button").click().run()
    assert set(frames(at)[0]["District"]) == {"D02"}


# --- survey -------------------------------------------------------------------------------


def test_survey_page_weighted_unweighted_and_suppressed(env: Path) -> None:
    at = run_page("survey.py", {"question": "q_satisfied", "period": "2025Q4", "group": "age_band"})
    table = frames(at)[0]
    assert list(table["Group"]) == ["18-34", "35-54", "55-74", "75+"]
    old = table[table["Group"] == "75+"].iloc[0]
    assert old["Weighted"] == "suppressed (n<30)" and old["Unweighted"] == "suppressed"
    w, u, neff, deff = snapshot(
        env,
        "select weighted, unweighted, n_eff, design_effect from marts.survey_estimates where "
        "question_id = 'q_satisfied' and period_start = ? and group_value = '18-34'",
        [LATEST_QUARTER],
    )[0]
    young = table[table["Group"] == "18-34"].iloc[0]
    assert young["Weighted"] == f"{w:.1%}" and young["Unweighted"] == f"{u:.1%}"
    assert young["n_eff"] == round(neff) and young["Design effect"] == round(deff, 2)


# --- data health --------------------------------------------------------------------------


def test_data_health_page(env: Path) -> None:
    at = run_page("data_health.py")
    sources = frames(at)[0].set_index("Source")
    assert sources.loc[STALE_SOURCE, "Fresh?"] == "STALE"
    assert sources.loc["feedback", "Fresh?"] == "fresh"
    read, quarantined = snapshot(
        env, "select sum(rows_read), sum(rows_quarantined) from ops.load_log where source = 'feedback'"
    )[0]
    assert sources.loc["feedback", "Rows quarantined"] == quarantined
    assert sources.loc["feedback", "Quarantine rate"] == f"{quarantined / read:.2%}"
    assert sources.loc["kpis", "Rejected files"] == 1
    reasons = frames(at)[1]
    top = reasons[reasons["Source"] == "feedback"].iloc[0]
    assert (top["Reason"], top["Records"]) == ("unknown district", 3)
    assert any(STALE_SOURCE in w.value for w in at.warning)


# --- quarterly review ---------------------------------------------------------------------


def review_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from dashboards.auth import add_editor

    editors = tmp_path / "editors.toml"
    add_editor(editors, "alice", "s3cret-password-1")
    monkeypatch.setenv("CIVICLOOP_EDITORS_FILE", str(editors))
    # a fresh register per test: copy the snapshot folder into tmp_path
    import shutil

    shutil.copytree(data_dir / "published", tmp_path / "data" / "published")
    monkeypatch.setenv("CIVICLOOP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_review_agenda_viewer_has_no_write_controls(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    review_env(data_dir, tmp_path, monkeypatch)
    at = run_page("quarterly_review.py", {"period": "2025Q4"})
    text = all_text(at)
    # indicators by name, with the id for reference
    assert f"Red two quarters running — Requests closed within SLA ({RED_TWICE_INDICATOR})" in text
    assert f"Large move — Requests per 1,000 residents (lowest district) ({BIG_MOVE_INDICATOR})" in text
    assert f"Stale data — source:{STALE_SOURCE}" in text
    assert "Action past due — Requests closed within SLA (C1_02)" in text
    assert "(consideration?consideration=1&period=2025Q4&indicator=C1_02)" in text
    labels = {b.label for b in at.button}
    assert "Record decision" not in labels and "Save triggers" not in labels
    assert labels == {"Sign in"}
    assert "not configured" in text  # st.login/OIDC availability is stated
    assert [b.label for b in at.get("download_button")] == [
        "Download HTML",
        "Download CSV (zip)",
        "Download PDF",
    ]


def test_review_editor_signs_in_and_records_a_revision(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = review_env(data_dir, tmp_path, monkeypatch)
    at = run_page("quarterly_review.py", {"period": "2025Q4"})
    at.text_input(key="sign_in_user").input("alice")
    at.text_input(key="sign_in_password").input("wrong-password")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    at.text_input(key="sign_in_user").input("alice")
    at.text_input(key="sign_in_password").input("s3cret-password-1")
    at.button[0].click().run()
    assert not at.exception
    assert "Record decision" in {b.label for b in at.button}
    at.radio(key="item1_decision").set_value("revise_target").run()
    at.number_input(key="item1_target").set_value(80.0)
    import datetime as dt

    at.date_input(key="item1_effective").set_value(dt.date(2026, 1, 1))
    at.text_area(key="item1_rationale").input("SLA target unrealistic with current crews")
    at.button(key="item1_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Recorded entry" in s.value for s in at.success)

    from dashboards.decisions import DecisionRegister

    reg = DecisionRegister(root / "decisions" / "decisions.sqlite")
    entries = reg.entries("2025Q4")
    assert len(entries) == 1
    e = entries.iloc[0]
    assert (e["indicator_id"], e["decision"], e["new_target"], e["effective_from"], e["recorded_by"]) == (
        RED_TWICE_INDICATOR,
        "revise_target",
        80.0,
        "2026-01-01",
        "alice",
    )
    assert list(reg.audit_log()["actor"]) == ["alice"]
    assert list((root / "decisions" / "backups").glob("decisions-*.sqlite"))
    register_table = frames(at)[0]
    assert list(register_table["indicator_id"]) == [RED_TWICE_INDICATOR]
