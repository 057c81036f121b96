"""The national rollup end to end: three real small cities built, exported, rolled up on DuckDB
and on Spark (dbt-spark, local session), with identical national marts on both engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.build import run_build
from pipelines.federation import export_city
from pipelines.generate import generate_city
from pipelines.national import build_national, compare_snapshots, national_marts, snapshot_tables
from pipelines.settings import Settings

pytestmark = pytest.mark.slow

SMALL_CITY = {"n_requests": 5_000, "quarters": 4, "survey_respondents_per_wave": 400}
# name, seed, exports request facts, still on an older scoring method
CITIES = [
    ("Northport", 11, True, False),
    ("Southvale", 12, True, False),
    ("Old Harbour", 13, False, True),
]
OLDER_METHOD = "1.1"


def _build_city(root: Path, name: str, seed: int, *, facts: bool) -> Settings:
    data_dir = root / name.lower().replace(" ", "-")
    with pytest.MonkeyPatch.context() as patch:
        # run_build exports these for the build's resources; the context puts them back after.
        patch.setenv("CIVICLOOP_DATA_DIR", str(data_dir))
        patch.setenv("CIVICLOOP_EXPORT_REQUEST_FACTS", str(facts).lower())
        generate_city(data_dir, seed=seed, **SMALL_CITY)
        settings = Settings(data_dir=data_dir, city_name=name, export_request_facts=facts)
        outcome = run_build(settings)
    assert outcome.published, (outcome.failed_steps, outcome.failed_checks)
    return settings


def _as_if_older_method(settings: Settings) -> None:
    """A city whose last build ran an older civicloop scoring method (1.1)."""
    with duckdb.connect(str(settings.published_path)) as con:
        con.execute("update ops.build_info set method_version = ?", [OLDER_METHOD])
        for table in ("consideration_scores", "composite_scores"):
            con.execute(f"update marts.{table} set method_version = ?", [OLDER_METHOD])


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cities")
    out = root / "exports"
    for name, seed, facts, older in CITIES:
        settings = _build_city(root, name, seed, facts=facts)
        if older:
            _as_if_older_method(settings)
        export_city(settings, out, request_facts=facts)
        shutil.rmtree(settings.resolved_data_dir / "inbox", ignore_errors=True)
        shutil.rmtree(settings.resolved_data_dir / "raw", ignore_errors=True)
    return out


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("national"))


@pytest.fixture(scope="module")
def duckdb_snapshot(exports: Path, national: Settings) -> Path:
    result = build_national(national, exports, engine="duckdb")
    assert result.cities == ["northport", "old-harbour", "southvale"]
    assert set(result.table_rows) == {f"national.{mart}" for mart in national_marts(national)}
    return result.published_path


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    return snapshot_tables(path, national_marts(Settings()))


def test_older_method_is_flagged_not_mixed(duckdb_snapshot: Path) -> None:
    tables = _tables(duckdb_snapshot)
    cities = tables["national_cities"].set_index("city_slug")
    assert not cities.loc["old-harbour", "is_comparable"]
    assert "method version 1.1" in cities.loc["old-harbour", "comparability_reason"]
    assert cities.loc[["northport", "southvale"], "is_comparable"].all()
    assert cities["comparability_reason"].loc[["northport", "southvale"]].isna().all()

    spread = tables["national_consideration_spread"]
    assert set(spread["consideration"]) == {1, 2, 3, 4, 5, 6}
    assert (spread["n_cities"] <= 2).all() and (spread["n_not_comparable"] <= 1).all()
    assert (spread["n_not_comparable"] == 1).any()
    # The spread is computed from the comparable cities' scores alone.
    scores = tables["national_city_scores"]
    comparable = scores[scores["is_comparable"] & scores["score"].notna()]
    expected = comparable.groupby(["consideration", "period_start"])["score"].agg(["min", "max", "median"])
    got = spread.set_index(["consideration", "period_start"]).loc[expected.index]
    assert got["min_score"].to_numpy() == pytest.approx(expected["min"].to_numpy(), abs=1e-6)
    assert got["max_score"].to_numpy() == pytest.approx(expected["max"].to_numpy(), abs=1e-6)
    assert got["median_score"].to_numpy() == pytest.approx(expected["median"].to_numpy(), abs=1e-6)


def test_evidence_gaps_and_normalised_indicators(duckdb_snapshot: Path, exports: Path) -> None:
    tables = _tables(duckdb_snapshot)
    coverage = tables["national_evidence_coverage"].set_index(["city_slug", "evidence_source"])
    assert not coverage.loc[("old-harbour", "request_facts"), "is_present"]
    assert coverage.loc[("northport", "request_facts"), "is_present"]
    for source in ("feedback", "kpis", "survey", "reviews"):
        assert coverage.loc[("northport", source), "is_present"], source

    service = tables["national_service_resolution"]
    assert set(service["city_slug"]) == {"northport", "southvale"}

    cities = tables["national_cities"].set_index("city_slug")
    normalised = tables["national_normalised_indicators"]
    row = normalised[
        (normalised["city_slug"] == "northport") & (normalised["indicator"] == "reports_per_1k_residents")
    ].iloc[0]
    assert row["value"] == pytest.approx(row["numerator"] * 1000 / cities.loc["northport", "population"])
    glob = str(exports / "city=northport" / "feedback_funnel" / "*" / "*.parquet")
    with duckdb.connect() as con:
        received = con.execute(
            "select received from read_parquet(?) "
            "where grain = 'quarter' and scope = 'city' and period_start = ?",
            [glob, row["period_start"]],
        ).fetchone()
    assert received is not None and row["numerator"] == received[0]


def test_spark_builds_identical_national_marts(
    duckdb_snapshot: Path, exports: Path, national: Settings
) -> None:
    if shutil.which("java") is None:
        pytest.skip("no Java runtime (java on PATH): the Spark engine cannot start here")
    spark_path = national.resolved_data_dir / "published" / "national_spark.duckdb"
    result = build_national(national, exports, engine="spark", published_path=spark_path)
    assert result.engine == "spark"
    marts = national_marts(national)
    assert all(len(frame) > 0 for frame in _tables(spark_path).values())
    assert compare_snapshots(duckdb_snapshot, spark_path, marts) == []
