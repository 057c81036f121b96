"""The federation contract: export layout, manifest, sha256 verification, opt-in request facts."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from national_fixture import published_city
from published_fixture import QUARTERS

from pipelines.federation import (
    EXPORT_TABLES,
    ExportError,
    ExportIntegrityError,
    export_city,
    read_exports,
    read_manifest,
    sha256_of,
    version_rank,
)
from pipelines.national import cities_table
from pipelines.settings import Settings, slugify


@pytest.fixture()
def city(tmp_path: Path) -> Settings:
    return published_city(tmp_path / "city")


def test_export_layout_partitions_by_city_and_period(city: Settings, tmp_path: Path) -> None:
    result = export_city(city, tmp_path / "exports")
    assert result.city_dir == tmp_path / "exports" / "city=fixture-town"
    scores = sorted(p.name for p in (result.city_dir / "consideration_scores").iterdir())
    assert scores == [f"period={q.isoformat()}" for q in QUARTERS]
    assert (result.city_dir / "districts" / "data_0.parquet").is_file()
    with duckdb.connect() as con:
        glob = str(result.city_dir / "consideration_scores" / "*" / "*.parquet")
        rows = con.execute(
            "select distinct city_slug, count(*) over () from read_parquet(?, hive_partitioning = false)",
            [glob],
        ).fetchall()
        # Every file carries the city and its own period column; district shapes are left out.
        columns = {
            row[0]
            for row in con.execute(
                "describe select * from read_parquet(?)",
                [str(result.city_dir / "districts" / "data_0.parquet")],
            ).fetchall()
        }
    assert rows == [("fixture-town", 6 * len(QUARTERS))]
    assert "city_slug" in columns and "geometry_json" not in columns
    assert not list((tmp_path / "exports").glob(".*")), "no staging folder left behind"


def test_manifest_names_versions_period_and_every_file(city: Settings, tmp_path: Path) -> None:
    result = export_city(city, tmp_path / "exports")
    manifest = json.loads((result.city_dir / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["city"] == {"slug": "fixture-town", "name": "Fixture Town", "population": 96_900}
    assert manifest["method_version"] == "1.2"
    assert version_rank(manifest["framework_version"]) > 0
    assert manifest["period_covered"] == {
        "start": QUARTERS[0].isoformat(),
        "end": QUARTERS[-1].isoformat(),
    }
    assert manifest["build"]["build_id"] == "b-1"
    assert set(manifest["tables"]) == set(EXPORT_TABLES)
    assert manifest["tables"]["consideration_scores"]["rows"] == 6 * len(QUARTERS)
    for entry in manifest["tables"].values():
        for file in entry["files"]:
            assert sha256_of(result.city_dir / file["path"]) == file["sha256"]
    assert read_manifest(result.city_dir) == manifest


def test_request_facts_only_when_the_city_allows(city: Settings, tmp_path: Path) -> None:
    default = export_city(city, tmp_path / "default")
    assert default.manifest["request_facts"] is False
    assert not (default.city_dir / "request_facts").exists()

    allowed = city.model_copy(update={"export_request_facts": True})
    result = export_city(allowed, tmp_path / "allowed")
    assert result.manifest["request_facts"] is True
    facts = result.manifest["tables"]["request_facts"]
    assert facts["rows"] == 60 and facts["partitioned_by"] == "month_start"
    assert len(facts["files"]) == 6
    # Nothing that could identify a resident: no text, pseudonym or coordinates.
    assert not {"description", "reporter_pseudonym", "lat", "lon"} & set(facts["columns"])


@pytest.mark.parametrize("damage", ["changed", "removed", "added"])
def test_a_tampered_export_is_refused(city: Settings, tmp_path: Path, damage: str) -> None:
    city_dir = export_city(city, tmp_path / "exports").city_dir
    target = city_dir / "indicator_values" / f"period={QUARTERS[2].isoformat()}" / "data_0.parquet"
    if damage == "changed":
        target.write_bytes(target.read_bytes()[:-9] + b"tampered!")
        message = "does not match its sha256"
    elif damage == "removed":
        target.unlink()
        message = "is missing"
    else:
        shutil.copy(target, target.with_name("extra.parquet"))
        message = "not in the manifest"
    with pytest.raises(ExportIntegrityError, match=message):
        read_exports(tmp_path / "exports")


def test_a_renamed_city_folder_is_refused(city: Settings, tmp_path: Path) -> None:
    city_dir = export_city(city, tmp_path / "exports").city_dir
    city_dir.rename(city_dir.with_name("city=another-town"))
    with pytest.raises(ExportIntegrityError, match="holds the export of city=fixture-town"):
        read_exports(tmp_path / "exports")


def test_export_again_replaces_the_city_whole(city: Settings, tmp_path: Path) -> None:
    first = export_city(city.model_copy(update={"export_request_facts": True}), tmp_path / "exports")
    second = export_city(city, tmp_path / "exports")
    assert first.city_dir == second.city_dir
    assert not (second.city_dir / "request_facts").exists()
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["city=fixture-town"]


def test_export_without_a_snapshot_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="civicloop build"):
        export_city(Settings(data_dir=tmp_path), tmp_path / "exports")
    with pytest.raises(ExportError, match="no city exports"):
        read_exports(tmp_path)


def test_cities_table_flattens_manifests(tmp_path: Path) -> None:
    older = published_city(tmp_path / "older", method_version="1.1")
    manifest = export_city(older, tmp_path / "exports").manifest
    table = cities_table([manifest]).to_pylist()
    assert table[0]["city_slug"] == "fixture-town"
    assert table[0]["method_version"] == "1.1"
    assert table[0]["has_request_facts"] is False


def test_slugs_and_version_ranks() -> None:
    assert slugify("  Saint-Étienne du Rouvray ") == "saint-tienne-du-rouvray"
    assert Settings(city_name="Sample City").resolved_city_slug == "sample-city"
    assert Settings(city_name="X", city_slug="Lyon 2").resolved_city_slug == "lyon-2"
    with pytest.raises(ValueError, match="CIVICLOOP_CITY_SLUG"):
        slugify("!!!")
    assert version_rank("0.1.0") < version_rank("0.2") < version_rank("1.0.0rc1")


def test_request_facts_missing_from_the_snapshot_says_how_to_publish_them(
    city: Settings, tmp_path: Path
) -> None:
    with duckdb.connect(str(city.published_path)) as con:
        con.execute("drop table marts.request_facts")
    with pytest.raises(ExportError, match="CIVICLOOP_EXPORT_REQUEST_FACTS=true"):
        export_city(city, tmp_path / "exports", request_facts=True)
