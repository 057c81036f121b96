"""The National rollup page: AppTest against a national snapshot built from fixture exports, and
the real app in Debian's chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from national_fixture import FIXTURE_CITIES, NOT_COMPARABLE_CITY, build_national_fixture  # noqa: E402
from published_fixture import build_published_fixture  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboards.screenshots import CHROMIUM, CHROMIUM_ARGS, running_app, wait_rendered  # noqa: E402

PAGE = REPO / "dashboards" / "app_pages" / "national.py"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("national_page")
    data = root / "data"
    build_published_fixture(data / "published" / "civicloop.duckdb")
    build_national_fixture(root, data)
    return data


def run_page(data_dir: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None) -> AppTest:
    monkeypatch.setenv("CIVICLOOP_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_without_a_national_snapshot_the_page_says_how_to_build_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(tmp_path, monkeypatch)
    assert not at.error
    assert "civicloop national build --exports DIR" in at.info[0].value
    assert "civicloop export --out DIR" in at.info[0].value


def test_scores_across_cities_with_the_not_comparable_city_flagged(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(data_dir, monkeypatch, {"period": "2025Q4"})
    scores, spread, flagged, comparability, evidence, normalised = (d.value for d in at.dataframe)
    assert len(scores) == len(FIXTURE_CITIES)
    assert f"{NOT_COMPARABLE_CITY} (not comparable)" in set(scores["City"])
    assert set(spread["Comparable cities"]) == {len(FIXTURE_CITIES) - 1}
    assert set(spread["Left out"]) == {1}
    assert list(flagged["City"]) == [NOT_COMPARABLE_CITY]
    assert "method version 1.1" in flagged["Why not"].iloc[0]
    assert len(comparability) == len(FIXTURE_CITIES)
    assert "1 of 4 cities are not comparable" in at.warning[0].value
    # Old Harbour exports no request facts: named as an evidence gap.
    assert evidence.set_index("City").loc[NOT_COMPARABLE_CITY, "request_facts"] == "missing"
    assert f"{NOT_COMPARABLE_CITY} lacks request facts" in at.warning[1].value
    assert set(normalised.columns) >= {"City", "Reports per 1,000 residents", "Responded"}
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2


def test_the_quarter_comes_from_the_url(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(data_dir, monkeypatch, {"period": "2024Q2"})
    assert "2024Q2" in " ".join(c.value for c in at.caption)


@pytest.mark.browser
@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
)
def test_national_page_in_the_browser(data_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with running_app({"CIVICLOOP_DATA_DIR": str(data_dir)}) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base)
            wait_rendered(page)
            page.get_by_test_id("stSidebarNav").get_by_text("National rollup").click()
            page.get_by_role("heading", name="The six considerations across cities").wait_for()
            wait_rendered(page)
            assert page.get_by_test_id("stException").count() == 0
            assert page.get_by_text("cities are not comparable").count() == 1
            assert "period=" in page.url
        finally:
            browser.close()
