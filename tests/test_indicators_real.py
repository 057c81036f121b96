"""The indicator framework on real public files: dbt builds and the indicators compute.

One tmp warehouse holds the NYC and SF 311 samples (profiles nyc311, sf311), the MTA KPI file and
the Somerville happiness survey (codebook somerville_happiness), loaded through pipelines.ingest as
tests/test_ingest_real.py does, with reference districts for all three places. raw.population is
built from the NYC community-district census table only (2010 totals; see docs/indicators.md):
the SF census profile is by neighbourhood, not by the supervisor districts the 311 file carries,
and no Somerville ward census is in the shared files. The Somerville survey is therefore not
raked: raw.survey_weights holds equal base weights (1.0) and no raked weight, which the dbt
models fall back to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import SHARED_REAL

from pipelines.ingest import ensure_warehouse_schema, ingest_source
from pipelines.settings import Settings

REAL = SHARED_REAL  # ../shared/data/real beside the checkout
PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
pytestmark = [
    pytest.mark.skipif(not REAL.is_dir(), reason=f"real sample data folder {REAL} is absent"),
    pytest.mark.slow,
]
AGE_BANDS = ("18-34", "35-54", "55-74", "75+")
SOMERVILLE = REAL / "somerville_survey" / "somerville_happiness_2011_2013_2015.csv"
SATISFACTION = "How.satisfied.are.you.with.Somerville.as.a.place.to.live."
# The codebook's age map restated, so that the expected values below do not come from the loader.
SOMERVILLE_AGE = {
    "18-21": "18-34",
    "22-25": "18-34",
    "26-30": "18-34",
    "18-24": "18-34",
    "25-34": "18-34",
    "35-44": "35-54",
    "45-54": "35-54",
    "55-64": "55-74",
    "65-74": "55-74",
    "75 or older": "75+",
}
# Bronx and Brooklyn share their first two letters: codes need the usual borough abbreviations.
BOROUGHS = {"Bronx": "BX", "Brooklyn": "BK", "Manhattan": "MN", "Queens": "QN", "Staten Island": "SI"}


def _districts() -> pl.DataFrame:
    nyc = pl.read_csv(
        REAL / "nyc311" / "New_York_City_Population_By_Community_Districts.csv", infer_schema=False
    )
    nyc = nyc.select(
        (pl.col("Borough").replace_strict(BOROUGHS) + pl.col("CD Number").str.zfill(2)).alias(
            "district_code"
        ),
        pl.col("CD Name").str.strip_chars().alias("district_name"),
        (pl.col("CD Number") + " " + pl.col("Borough").str.to_uppercase()).alias("aliases"),
        pl.col("2010 Population").cast(pl.Int64).alias("population_2010"),
    )
    sf = pl.DataFrame(
        {
            "district_code": [f"SF{n:02d}" for n in range(1, 12)],
            "district_name": [f"Supervisor District {n}" for n in range(1, 12)],
            "aliases": [str(n) for n in range(1, 12)],
        }
    )
    somerville = pl.DataFrame(
        {
            "district_code": [f"W{n}" for n in range(1, 8)],
            "district_name": [f"Ward {n}" for n in range(1, 8)],
            "aliases": [f"ward {n}" for n in range(1, 8)],
        }
    )
    return pl.concat([nyc, sf, somerville], how="diagonal")


def _ingest(con, settings: Settings, source: str, *paths: Path) -> None:
    inbox = settings.inbox_dir(source)
    inbox.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, inbox / path.name)
    summary = ingest_source(con, settings, source)
    assert summary.files_rejected == 0, source


@pytest.fixture(scope="module")
def real_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("real_indicators")
    settings = Settings(data_dir=tmp / "data")
    db_path = tmp / "warehouse.duckdb"
    districts = _districts()
    con = duckdb.connect(str(db_path))
    try:
        ensure_warehouse_schema(con)
        inbox = settings.inbox_dir("reference")
        inbox.mkdir(parents=True, exist_ok=True)
        districts.drop("population_2010").with_columns(
            pl.lit(None, dtype=pl.Float64).alias("digital_access_rate")
        ).write_csv(inbox / "districts.csv")
        assert ingest_source(con, settings, "reference").files_loaded == 1
        _ingest(
            con,
            settings,
            "feedback",
            *sorted((REAL / "nyc311").glob("311_*.csv")),
            REAL / "sf311" / "sf311_cases_sample_10000.csv",
        )
        _ingest(con, settings, "kpis", REAL / "kpi_mta" / "MTA_Performance_TBTA.csv")
        _ingest(
            con, settings, "survey", REAL / "somerville_survey" / "somerville_happiness_2011_2013_2015.csv"
        )
        # raw.population: NYC 2010 census totals per community district. The table's grain is
        # district x age band x sex; only the district total is real, so it is spread evenly
        # over the eight cells (no indicator reads the split; only raking would, and the real
        # survey is not raked).
        nyc = districts.filter(pl.col("population_2010").is_not_null())
        con.execute("delete from raw.population")
        con.executemany(
            "insert into raw.population (district_code, age_band, sex, population) values (?, ?, ?, ?)",
            [
                (code, band, sex, total / 8)
                for code, total in nyc.select("district_code", "population_2010").rows()
                for band in AGE_BANDS
                for sex in ("F", "M")
            ],
        )
        con.execute("delete from raw.survey_weights")
        con.execute(
            "insert into raw.survey_weights select respondent_id, wave, 1.0, null, false "
            "from raw.survey_respondents"
        )
    finally:
        con.close()
    from dbt.cli.main import dbtRunner

    env = {
        "CIVICLOOP_WAREHOUSE_PATH": str(db_path),
        "CIVICLOOP_DUCKDB_MEMORY_LIMIT": "1GB",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(
            [
                "build",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(tmp / "target"),
                "--log-path",
                str(tmp / "logs"),
                "--quiet",
            ]
        )
    finally:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt build failed on real data: {result.exception} {failures}"
    return db_path


@pytest.fixture(scope="module")
def con(real_warehouse: Path):
    connection = duckdb.connect(str(real_warehouse), read_only=True)
    yield connection
    connection.close()


def test_feedback_indicators_compute_on_real_311(con):
    """Considerations 1, 2 and 5 are supported by 311 data: each has reportable city values."""
    reportable = dict(
        con.execute(
            "select indicator_id, count(*) from marts.indicator_values where scope = 'city' "
            "and status <> 'suppressed' group by 1"
        ).fetchall()
    )
    for indicator_id in (
        "c1_reports_per_1k",
        "c1_repeat_report_share",
        "c2_theil_resolution",
        "c2_district_disparity_ratio",
    ):
        assert reportable.get(indicator_id, 0) > 0, indicator_id
    # per-1k rates exist only where a census population exists (NYC community districts)
    scopes = {
        s
        for (s,) in con.execute(
            "select distinct scope from marts.indicator_values where indicator_id = 'c1_reports_per_1k' "
            "and value is not null and scope <> 'city'"
        ).fetchall()
    }
    assert scopes and all(len(s) == 4 and not s.startswith(("SF", "W")) for s in scopes)
    assert con.execute("select count(*) from marts.equity_theil").fetchone()[0] > 0
    # NYC and SF exports carry no reopen count and no first-response time: those indicators are
    # suppressed, not a green 0 % reopen rate or a red 0 % response share
    for indicator_id in ("c5_reopen_rate", "c5_response_share"):
        shown = con.execute(
            "select count(*) filter (where status <> 'suppressed') from "
            "marts.indicator_values where indicator_id = ?",
            [indicator_id],
        ).fetchone()[0]
        assert shown == 0, indicator_id


def test_survey_estimates_compute_on_somerville(con):
    """The weighted estimates (base weights) compute per wave and ward for every question."""
    waves = dict(
        con.execute(
            "select year(period_start), count(*) from marts.survey_estimates "
            "where group_type = 'city' and question_id = 'city_satisfaction' group by 1"
        ).fetchall()
    )
    assert set(waves) == {2011, 2013, 2015}
    wards = con.execute(
        "select count(distinct group_value) from marts.survey_estimates where group_type = 'district'"
    ).fetchone()[0]
    assert wards == 7


def test_scores_and_sensitivity_compute(con):
    assert (
        con.execute("select count(*) from marts.consideration_scores where score is not null").fetchone()[0]
        > 0
    )
    assert con.execute("select count(*) from marts.weight_sensitivity").fetchone()[0] > 0
    assert (
        con.execute(
            "select count(*) from marts.indicator_values where status = 'suppressed' and value is not null"
        ).fetchone()[0]
        == 0
    )


def _somerville_satisfaction_by_band() -> pl.DataFrame:
    """Top-box (8-10) share of "satisfied with Somerville as a place to live" per wave and age
    band, straight from the CSV (every respondent weighs 1, the survey is not raked)."""
    return (
        pl.read_csv(SOMERVILLE, infer_schema=False)
        .select(
            pl.col("Year").alias("wave"),
            pl.col("Age.").replace_strict(SOMERVILLE_AGE, default=None).alias("band"),
            pl.col(SATISFACTION).cast(pl.Float64, strict=False).alias("value"),
        )
        .filter(pl.col("band").is_not_null() & pl.col("value").is_between(1, 10))
        .group_by("wave", "band")
        .agg(pl.len().alias("n"), (pl.col("value") >= 8).mean().alias("share"))
    )


def test_satisfaction_gap_on_somerville(con):
    """c4_satisfaction_gap from the codebook's mapping of city_satisfaction, checked against the
    CSV. By hand: 2013 18-34 42/70, 35-54 32/55, 55-74 35/54 (75+ 8/10 has n < 30 and is left
    out): 35/54 - 32/55 = 0.06633; 2015 18-34 58/77, 35-54 38/55, 55-74 27/38 (75+ 12/13 left
    out): 58/77 - 38/55 = 0.06234. With the small 75+ band the gaps would be 0.218 and 0.232."""
    bands = _somerville_satisfaction_by_band()
    for wave, by_hand, n in (("2013", 35 / 54 - 32 / 55, 179), ("2015", 58 / 77 - 38 / 55, 170)):
        shown = bands.filter((pl.col("wave") == wave) & (pl.col("n") >= 30))
        from_csv = shown["share"].max() - shown["share"].min()  # type: ignore[operator]
        assert from_csv == pytest.approx(by_hand) and shown["n"].sum() == n
        value, rows, score, status = con.execute(
            "select value, n, score, status from marts.indicator_values "
            "where indicator_id = 'c4_satisfaction_gap' and scope = 'city' and period_start = ?",
            [f"{wave}-01-01"],
        ).fetchone()
        assert value == pytest.approx(from_csv) and rows == n
        # lower is better: 0.15 / 0.066 = 2.3, capped at 1.2
        assert score == pytest.approx(1.2) and status == "green"
    # 2011's age bands straddle the contract bands except 18-34: one band is no gap
    assert con.execute(
        "select value, status from marts.indicator_values "
        "where indicator_id = 'c4_satisfaction_gap' and period_start = '2011-01-01'"
    ).fetchall() in ([], [(None, "suppressed")])


def test_somerville_codebook_mapping_lands_in_the_warehouse(con):
    mapped = con.execute(
        "select wave, question_id, indicator_id from raw.survey_questions "
        "where indicator_id is not null order by wave"
    ).fetchall()
    assert mapped == [
        ("2011", "city_satisfaction", "c4_satisfaction_gap"),
        ("2013", "city_satisfaction", "c4_satisfaction_gap"),
        ("2015", "city_satisfaction", "c4_satisfaction_gap"),
    ]
    # a wave-specific question is recorded only for the wave that asked it
    assert con.execute(
        "select wave from raw.survey_questions where question_id = 'police_trust_2015'"
    ).fetchall() == [("2015",)]
    # trust in the police is not mapped to c4_trust (see the codebook), and no Somerville question
    # is mapped to the other survey indicators: none of them has a value
    assert (
        con.execute(
            "select count(*) from marts.indicator_values where value is not null and indicator_id in "
            "('c4_trust', 'c4_consultation_participation', 'c1_city_listens', 'c2_weighting_gap', "
            "'c2_digital_takeup_gap', 'c2_underreporting_index')"
        ).fetchone()[0]
        == 0
    )


def test_participation_coverage_is_not_computed_without_ward_population(con):
    """Somerville respondents live in wards with no population in raw.population (only NYC
    districts have one): coverage is unknown, not 0 % of NYC's districts."""
    rows = con.execute(
        "select period_start, value, n, status from marts.indicator_values "
        "where indicator_id = 'c4_participation_coverage' order by period_start"
    ).fetchall()
    assert [r[0].year for r in rows] == [2011, 2013, 2015]
    assert all(value is None and status == "suppressed" for _, value, _, status in rows)
    # n: respondents with at least one answer (13 of 2011's 6,160 answered nothing the codebook reads)
    assert [n for _, _, n, _ in rows] == [6147, 193, 185]
