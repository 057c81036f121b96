"""Quality gates end to end: a blocking failure stops the publish and says why; a warning does not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.build import run_build
from pipelines.generate import generate_city
from pipelines.settings import Settings

pytestmark = pytest.mark.slow

KPI_HEADER = "agency,kpi_id,kpi_name,period,actual,target,desired_change,unit\n"
DATA_HEALTH_PAGE = Path(__file__).resolve().parent.parent / "dashboards" / "app_pages" / "data_health.py"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("gates")
    previous = os.environ.get("CIVICLOOP_DATA_DIR")
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    generate_city(data_dir, n_requests=4_000, quarters=2, survey_respondents_per_wave=200, seed=11)
    settings = Settings(data_dir=data_dir)
    first = run_build(settings)
    assert first.published, first
    yield settings
    if previous is None:
        os.environ.pop("CIVICLOOP_DATA_DIR", None)
    else:
        os.environ["CIVICLOOP_DATA_DIR"] = previous


def published_build_id(settings: Settings) -> str:
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        row = con.sql("select build_id from ops.build_info").fetchone()
    assert row is not None
    return str(row[0])


def drop_kpi_file(settings: Settings, name: str, actual: str) -> None:
    # A KPI row with no actual passes ingestion (the value is simply missing) but breaks the
    # error-severity expectation that every KPI observation has an actual.
    row = f"PW,cost_per_transaction,Cost per transaction,2024-06,{actual},12.5,D,USD\n"
    (settings.inbox_dir("kpis") / name).write_text(KPI_HEADER + row, encoding="utf-8")


def data_health_page() -> AppTest:
    page = AppTest.from_file(str(DATA_HEALTH_PAGE), default_timeout=60)
    page.run()
    assert not page.exception, page.exception
    return page


def test_a_blocking_failure_keeps_the_previous_snapshot_and_says_why(city: Settings) -> None:
    before = published_build_id(city)
    drop_kpi_file(city, "kpis_fix_2024-06.csv", actual="")
    outcome = run_build(city)

    assert not outcome.published
    assert "raw/kpi_observations:gx_raw_kpi_observations" in outcome.failed_checks
    assert published_build_id(city) == before
    status = json.loads(city.build_status_path.read_text())
    assert status["published"] is False
    assert "actual" in status["check_findings"]["raw/kpi_observations:gx_raw_kpi_observations"]

    page = data_health_page()
    errors = " ".join(element.value for element in page.error)
    assert "not published" in errors
    assert "gx_raw_kpi_observations" in errors


def test_a_warning_publishes_and_is_shown(city: Settings) -> None:
    before = published_build_id(city)
    # The corrected re-delivery replaces the row (same agency, KPI and month): a negative cost is
    # implausible but only a warning.
    drop_kpi_file(city, "kpis_fix2_2024-06.csv", actual="-3.5")
    outcome = run_build(city)

    assert outcome.published, outcome
    assert "raw/kpi_observations:gx_raw_kpi_observations" in outcome.warned_checks
    assert published_build_id(city) != before
    with duckdb.connect(str(city.published_path), read_only=True) as con:
        recorded = con.sql(
            """
            select severity, passed from ops.check_results
            where asset = 'raw.kpi_observations' and build_id = (select build_id from ops.build_info)
            """
        ).fetchall()
    # passed = the gate let the build through; severity = the worst failure found.
    assert recorded == [("warning", True)]

    page = data_health_page()
    warnings = " ".join(element.value for element in page.warning)
    assert "gx_raw_kpi_observations" in warnings
    assert not [e for e in page.error if "not published" in e.value]
