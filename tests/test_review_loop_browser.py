"""The closed loop in a real browser: a review decision becomes the next build's target.

Generate a small city, build it, sign in on the review page as an editor, record a target revision
for an indicator, build again (the build reads the decision register), and check that the
consideration page shows the revised target with who, when and why. A viewer sees no write
controls. Uses Debian's /usr/bin/chromium through Playwright; never ``playwright install``.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards.screenshots import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    running_app,
    wait_rendered,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} not installed (apt-get install chromium); "
        "the closed-loop browser test needs Debian's chromium",
    ),
]

EDITOR, PASSWORD = "r.mensah", "loop-test-password-1"
INDICATOR = "c5_response_share"  # feedback-based, min_n 5: never suppressed at city level
CONSIDERATION = 5
NEW_TARGET = 0.93
REASON = "Crews added in the review; raise the response ambition"


def _build(data_dir: Path) -> None:
    """One whole build in this process; the variables it exports are restored afterwards."""
    from pipelines.build import run_build
    from pipelines.settings import Settings

    settings = Settings(data_dir=data_dir)
    saved = {k: os.environ.get(k) for k in settings.tool_environment()}
    try:
        outcome = run_build(settings)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert outcome.published, (outcome.failed_steps, outcome.failed_checks)


def _published(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "published" / "civicloop.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _quarter(d: dt.date) -> str:
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def sign_in(page, editor: str, password: str) -> None:
    page.get_by_role("textbox", name="Username").fill(editor)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    wait_rendered(page)


def record_target_revision(page, indicator: str, new_target: float, effective: dt.date, reason: str) -> None:
    """Fill and submit "Record a decision for another indicator" on the review page."""
    form = page.get_by_test_id("stExpander").filter(has_text="Record a decision for another indicator")
    if not form.get_by_label("Rationale").is_visible():
        form.get_by_text("Record a decision for another indicator").click()
    # the option list is virtualised: type to filter it, then pick the one match
    form.get_by_test_id("stSelectbox").click()
    page.keyboard.type(indicator)
    page.get_by_role("option").filter(has_text=f"({indicator})").first.click()
    wait_rendered(page)
    form.get_by_text("Revise target").click()
    wait_rendered(page)
    form.get_by_label("New target").fill(str(new_target))
    form.get_by_label("New target").press("Enter")
    wait_rendered(page)
    for part, value in (
        ("year", f"{effective.year}"),
        ("month", f"{effective.month:02d}"),
        ("day", f"{effective.day:02d}"),
    ):
        form.get_by_role("spinbutton", name=f"{part}, Effective from").click()
        page.keyboard.type(value)
    page.keyboard.press("Tab")
    wait_rendered(page)
    form.get_by_label("Rationale").fill(reason)
    form.get_by_label("Rationale").press("Tab")
    wait_rendered(page)
    form.get_by_role("button", name="Record decision").click()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dashboards.auth import add_editor
    from pipelines.generate import generate_city

    data_dir = tmp_path_factory.mktemp("loop_city")
    generate_city(data_dir, n_requests=8000, quarters=3, survey_respondents_per_wave=300)
    _build(data_dir)
    add_editor(data_dir / "secrets" / "editors.toml", EDITOR, PASSWORD)
    return data_dir


@pytest.fixture(scope="module")
def app(city: Path) -> Iterator[str]:
    # running_app starts ``streamlit run ... --server.headless true --browser.gatherUsageStats
    # false`` in its own session and stops it with os.killpg in a finally
    env = {"CIVICLOOP_DATA_DIR": str(city)}
    env.pop("CIVICLOOP_EDITORS_FILE", None)
    with running_app(env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_viewer_sees_no_write_controls(app: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{app}/quarterly-review")
    wait_rendered(page)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("read-only").count() >= 1
    for name in ("Record decision", "Record correction", "Save triggers", "Sign out"):
        assert page.get_by_role("button", name=name).count() == 0, name
    assert page.get_by_text("Record a decision for another indicator").count() == 0
    page.close()


def test_target_revision_flows_through_the_next_build(app: str, city: Path, browser) -> None:
    latest = _published(
        city, "select max(period_start) from marts.consideration_scores where grain = 'quarter'"
    )[0][0]
    quarter = _quarter(latest)
    before = _published(
        city,
        "select target from marts.indicator_values where indicator_id = ? "
        "and grain = 'quarter' and scope = 'city' and period_start = ?",
        [INDICATOR, latest],
    )[0][0]
    assert before != pytest.approx(NEW_TARGET)

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app}/quarterly-review?period={quarter}")
    wait_rendered(page)
    sign_in(page, EDITOR, PASSWORD)

    record_target_revision(page, INDICATOR, NEW_TARGET, latest, REASON)
    page.get_by_text("Recorded entry").wait_for(timeout=30_000)
    page.close()

    con = sqlite3.connect(city / "decisions" / "decisions.sqlite")
    rows = con.execute(
        "select indicator_id, decision, new_target, effective_from, recorded_by, "
        "review_quarter, rationale from decisions"
    ).fetchall()
    con.close()
    assert rows == [(INDICATOR, "revise_target", NEW_TARGET, latest.isoformat(), EDITOR, quarter, REASON)]

    _build(city)  # the next build ingests the register (pipelines/review_register.py)

    after = _published(
        city,
        "select target from marts.indicator_values where indicator_id = ? "
        "and grain = 'quarter' and scope = 'city' and period_start = ?",
        [INDICATOR, latest],
    )[0][0]
    assert after == pytest.approx(NEW_TARGET)

    today = dt.date.today().isoformat()
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app}/consideration?consideration={CONSIDERATION}&period={quarter}&indicator={INDICATOR}")
    wait_rendered(page)
    assert page.get_by_test_id("stException").count() == 0
    # the indicator's bordered card: the innermost block holding its caption and history
    card = (
        page.get_by_test_id("stVerticalBlock")
        .filter(has_text=f"Indicator {INDICATOR}")
        .filter(has_text="Where the target came from")
        .last
    )
    text = card.inner_text()
    assert f"Target in {quarter}: {NEW_TARGET:.1%}" in text, text
    assert f"revised by {EDITOR} on {today}" in text, text
    assert REASON in text, text
    # the history table (open because the link names the indicator): default, then revision
    assert "2 version(s)" in text, text
    history = card.get_by_test_id("stTable")
    rows = [r.inner_text() for r in history.locator("tbody tr").all()]
    assert len(rows) == 2, rows
    assert "catalogue default" in rows[0] or "start" in rows[0], rows
    for expected in (f"{NEW_TARGET:.1%}", latest.isoformat(), EDITOR, today, REASON):
        assert expected in rows[1], (expected, rows[1])
    page.close()
