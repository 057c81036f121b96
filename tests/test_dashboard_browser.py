"""End-to-end: the real app in Debian's chromium (Playwright), against the fixture snapshot.

Skipped when /usr/bin/chromium is absent. Never runs ``playwright install``.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_fixture import RED_TWICE_INDICATOR, build_published_fixture  # noqa: E402

from dashboards.screenshots import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    running_app,
    wait_rendered,
)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    from dashboards.auth import add_editor

    root = tmp_path_factory.mktemp("browser_data")
    build_published_fixture(root / "published" / "civicloop.duckdb")
    add_editor(root / "secrets" / "editors.toml", "alice", "s3cret-password-1")
    with running_app({"CIVICLOOP_DATA_DIR": str(root)}) as base:
        yield base, root


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_every_page_renders_without_exception(app, browser) -> None:
    base, _root = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    for name, path in PAGES:
        page.goto(f"{base}/{path}")
        wait_rendered(page)
        assert page.get_by_test_id("stException").count() == 0, name
        assert "Page not found" not in page.content(), name
    # sidebar navigation works too
    page.goto(base)
    wait_rendered(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Data health").click()
    page.get_by_role("heading", name="Data health").wait_for()
    page.close()


def test_viewer_sees_no_write_controls(app, browser) -> None:
    base, _root = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/quarterly-review?period=2025Q4")
    wait_rendered(page)
    assert (
        page.get_by_text(
            f"Red two quarters running — Requests closed within SLA ({RED_TWICE_INDICATOR})"
        ).count()
        == 1
    )
    assert page.get_by_role("button", name="Record decision").count() == 0
    assert page.get_by_role("button", name="Save triggers").count() == 0
    assert page.get_by_text("read-only").count() >= 1
    page.close()


def test_editor_signs_in_and_records_a_target_revision(app, browser) -> None:
    base, root = app
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{base}/quarterly-review?period=2025Q4")
    wait_rendered(page)
    page.get_by_role("textbox", name="Username").fill("alice")
    page.get_by_role("textbox", name="Password").fill("s3cret-password-1")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    wait_rendered(page)
    item = page.get_by_test_id("stExpander").first
    item.get_by_text("Revise target").click()
    wait_rendered(page)
    item.get_by_label("New target").fill("80")
    item.get_by_label("New target").press("Enter")
    wait_rendered(page)
    for part, value in (("year", "2026"), ("month", "01"), ("day", "01")):
        item.get_by_role("spinbutton", name=f"{part}, Effective from").click()
        page.keyboard.type(value)
    page.keyboard.press("Tab")
    wait_rendered(page)
    item.get_by_label("Rationale").fill("SLA target unrealistic with current crews")
    item.get_by_label("Rationale").press("Tab")
    wait_rendered(page)
    item.get_by_role("button", name="Record decision").click()
    page.get_by_text("Recorded entry").wait_for(timeout=30_000)
    con = sqlite3.connect(root / "decisions" / "decisions.sqlite")
    rows = con.execute(
        "select indicator_id, decision, new_target, effective_from, recorded_by from decisions"
    ).fetchall()
    audit = con.execute("select actor, action from audit_log").fetchall()
    con.close()
    assert rows == [(RED_TWICE_INDICATOR, "revise_target", 80.0, "2026-01-01", "alice")]
    assert audit == [("alice", "record_decision")]
    page.close()
