"""Every real public sample file in ../shared/data/real loads with row conservation."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import SHARED_REAL

from pipelines.ingest import ensure_warehouse_schema, ingest_source, profile_check
from pipelines.settings import Settings

REAL = SHARED_REAL  # ../shared/data/real beside the checkout
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real sample data folder {REAL} is absent")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_warehouse_schema(connection)
    yield connection
    connection.close()


def load_districts(con: duckdb.DuckDBPyConnection, settings: Settings, districts: pl.DataFrame) -> None:
    inbox = settings.inbox_dir("reference")
    inbox.mkdir(parents=True, exist_ok=True)
    districts.write_csv(inbox / "districts.csv")
    assert ingest_source(con, settings, "reference").files_loaded == 1


def ingest_real(con, settings, source: str, *paths: Path):
    inbox = settings.inbox_dir(source)
    inbox.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, inbox / path.name)
    summary = ingest_source(con, settings, source)
    assert summary.files_rejected == 0
    assert summary.rows_read == summary.rows_accepted + summary.rows_quarantined
    for read, accepted, quarantined in con.execute(
        "SELECT rows_read, rows_accepted, rows_quarantined FROM ops.load_log"
    ).fetchall():
        assert read == accepted + quarantined
    return summary


def reason_counts(con) -> dict[str, int]:
    found = con.execute(
        "SELECT regexp_extract(reason, '^[^0-9'']*'), count(*) FROM ops.quarantine GROUP BY 1"
    ).fetchall()
    return dict(found)


def nyc_districts() -> pl.DataFrame:
    population = pl.read_csv(
        REAL / "nyc311" / "New_York_City_Population_By_Community_Districts.csv", infer_schema=False
    )
    # Borough codes as NYC writes them; the first two letters would merge Bronx and Brooklyn.
    borough_codes = {
        "Bronx": "BX",
        "Brooklyn": "BK",
        "Manhattan": "MN",
        "Queens": "QN",
        "Staten Island": "SI",
    }
    return population.select(
        (
            pl.col("Borough").str.strip_chars().replace_strict(borough_codes)
            + pl.col("CD Number").str.zfill(2)
        ).alias("district_code"),
        pl.col("CD Name").str.strip_chars().alias("district_name"),
        (pl.col("CD Number") + " " + pl.col("Borough").str.to_uppercase()).alias("aliases"),
        pl.lit(None, dtype=pl.Float64).alias("digital_access_rate"),
    )


def test_nyc311_both_layouts(con, settings) -> None:
    load_districts(con, settings, nyc_districts())
    summary = ingest_real(con, settings, "feedback", *sorted((REAL / "nyc311").glob("311_*.csv")))
    assert (summary.rows_read, summary.rows_quarantined) == (
        999 + 199,
        0,
    )  # "Unspecified" boards -> no district
    opened = con.execute(
        "SELECT min(opened_at), max(opened_at), count(*) FILTER (WHERE district_code IS NULL), "
        "count(DISTINCT channel), max(closed_at) FROM raw.feedback_requests"
    ).fetchone()
    assert opened[0] == dt.datetime(2011, 3, 1, 0, 0) or opened[0].date() == dt.date(2011, 3, 1)
    assert opened[1].date() == dt.date(2013, 10, 31)
    assert opened[4].year == 2015
    # The double-encoded NBSP ("Â ") in Resolution Description is repaired, not stored.
    assert (
        con.execute("SELECT count(*) FROM raw.feedback_requests WHERE description LIKE '%Â%'").fetchone()[0]
        == 0
    )


def test_sf311_sample(con, settings) -> None:
    districts = pl.DataFrame(
        {
            "district_code": [f"SF{n:02d}" for n in range(1, 12)],
            "district_name": [f"Supervisor District {n}" for n in range(1, 12)],
            "aliases": [str(n) for n in range(1, 12)],
            "digital_access_rate": [None] * 11,
        },
        schema_overrides={"digital_access_rate": pl.Float64},
    )
    load_districts(con, settings, districts)
    path = REAL / "sf311" / "sf311_cases_sample_10000.csv"
    summary = ingest_real(con, settings, "feedback", path)
    assert summary.rows_read == 10000
    reasons = reason_counts(con)
    assert reasons == {"closed date ": 129, "required service code (column ": 51}
    assert summary.rows_quarantined == 180  # SOURCE.txt: 129 rows Closed < Opened
    stats = con.execute(
        "SELECT min(opened_at)::DATE, max(opened_at)::DATE, count(*) FILTER (WHERE channel = 'phone'), "
        "count(*) FILTER (WHERE district_code IS NULL) FROM raw.feedback_requests"
    ).fetchone()
    assert stats[0] >= dt.date(2008, 7, 1) and stats[1] <= dt.date(2016, 1, 27)


def test_open311_real_captures(con, settings) -> None:
    paths = sorted((REAL / "open311").glob("*requests*.json"))
    summary = ingest_real(con, settings, "feedback", *paths)
    assert summary.rows_read == 50 + 21 + 2
    stats = con.execute(
        "SELECT count(*) FILTER (WHERE lat IS NULL), count(*) FILTER (WHERE lat = 0), "
        "min(opened_at), max(opened_at) FROM raw.feedback_requests"
    ).fetchone()
    assert summary.rows_quarantined == 0 and stats[1] == 0 and stats[0] == 10  # 0,0 and null -> null
    assert stats[2].year == 2012 and stats[3].year == 2019


def test_mta_kpis(con, settings) -> None:
    summary = ingest_real(con, settings, "kpis", REAL / "kpi_mta" / "MTA_Performance_TBTA.csv")
    assert summary.rows_read == 348
    stats = con.execute(
        "SELECT count(DISTINCT kpi_id), min(period_month), max(period_month), "
        "min(actual) FILTER (WHERE kpi_name = 'Collisions with Injury Rate') FROM raw.kpi_observations"
    ).fetchone()
    assert stats[0] == 3 and stats[1] == dt.date(2008, 1, 1) and stats[2] == dt.date(2017, 9, 1)
    assert 0 < stats[3] < 1  # ".54"-style decimals parsed


def test_somerville_survey(con, settings) -> None:
    wards = pl.DataFrame(
        {
            "district_code": [f"W{n}" for n in range(1, 8)],
            "district_name": [f"Ward {n}" for n in range(1, 8)],
            "aliases": [str(n) for n in range(1, 8)],
            "digital_access_rate": [None] * 7,
        },
        schema_overrides={"digital_access_rate": pl.Float64},
    )
    load_districts(con, settings, wards)
    summary = ingest_real(
        con, settings, "survey", REAL / "somerville_survey" / "somerville_happiness_2011_2013_2015.csv"
    )
    assert summary.rows_read == 6545
    waves = dict(con.execute("SELECT wave, count(*) FROM raw.survey_respondents GROUP BY 1").fetchall())
    assert waves == {"2011": 6160, "2013": 193, "2015": 185} and summary.rows_quarantined == 7
    assert summary.rows_quarantined > 0 and all(
        "outside the scale" in reason
        for (reason,) in con.execute("SELECT reason FROM ops.quarantine").fetchall()
    )
    assert (
        con.execute("SELECT max(value) FROM raw.survey_answers WHERE question_id = 'happy_now'").fetchone()[0]
        <= 10
    )


def test_profile_check_on_real_nyc_file() -> None:
    report = profile_check(
        REAL / "nyc311" / "311_nyc_sample_2011-03.csv",
        "nyc311",
        districts=nyc_districts()["district_code"].to_list(),
    )
    assert report.rows == 999 and report.mapped_columns["request_id"] == "Unique Key"
    assert "BBL" in report.unmapped_columns


def test_nyc_reference_districts_have_distinct_codes(real_data_dir: Path) -> None:
    districts = nyc_districts()
    assert districts.height == 59
    assert districts["district_code"].n_unique() == 59
