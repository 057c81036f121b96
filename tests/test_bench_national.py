"""The national benchmark's derived cities and its report (the full run is `civicloop bench-national`)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from national_fixture import published_city

from pipelines.bench_national import OLDER_METHOD, derive_city, markdown_table
from pipelines.federation import read_exports


def test_derived_cities_differ_and_the_last_is_on_the_older_method(tmp_path: Path) -> None:
    base = published_city(tmp_path / "base", "Base")
    exports = tmp_path / "exports"
    for index in range(3):
        derive_city(base.published_path, tmp_path / "cities", exports, index, older=index == 2)
    manifests = read_exports(exports)
    assert [m["city"]["slug"] for m in manifests] == ["city-01", "city-02", "city-03"]
    assert [m["method_version"] for m in manifests] == ["1.2", "1.2", OLDER_METHOD]
    assert all(m["request_facts"] for m in manifests)
    assert not (tmp_path / "cities").exists() or not any((tmp_path / "cities").iterdir())
    with duckdb.connect() as con:
        scores = con.execute(
            "select city_slug, sum(score) from read_parquet(?) group by city_slug order by city_slug",
            [str(exports / "city=*" / "consideration_scores" / "*" / "*.parquet")],
        ).fetchall()
    assert len({round(total, 6) for _, total in scores}) == 3


def test_markdown_table_reports_each_engine_and_the_comparison() -> None:
    figures = {
        "seconds": 12.3,
        "peak_mib": 761.2,
        "steps": {"verify": 0.4, "dbt_build": 11.0, "publish": 0.1},
    }
    result = {
        "cities": 20,
        "requests_per_city": 1_000_000,
        "machine": {"cores": 2, "ram_gib": 23.5},
        "started_at": "2026-12-01T03:00:00",
        "derive": {"export_bytes": 309 * 2**20},
        "engines": {"duckdb": figures, "spark": {**figures, "seconds": 146.3}},
        "identical_results": True,
    }
    table = markdown_table(result)
    assert "20,000,000 request facts, 309 MiB" in table
    assert "| duckdb | 12.3 | 0.4 | 11.0 | 0.1 | 761 |" in table
    assert "| spark | 146.3 |" in table
    assert "Identical national marts on both engines: yes." in table
