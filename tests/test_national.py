"""The national build on DuckDB over fixture exports: CLI, publish, comparison of snapshots."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from national_fixture import FIXTURE_CITIES, build_national_fixture, published_city

from pipelines.cli import app
from pipelines.national import NationalBuildError, build_national, compare_snapshots, national_marts
from pipelines.settings import PROJECT_ROOT, Settings


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("national")
    result = build_national_fixture(root, root / "data")
    return root, result.published_path


def test_publishes_every_mart_and_the_build_info(built: tuple[Path, Path]) -> None:
    root, snapshot = built
    assert snapshot == root / "data" / "published" / "civicloop_national.duckdb"
    marts = national_marts(Settings())
    assert marts == sorted(p.stem for p in (PROJECT_ROOT / "dbt_national" / "models" / "marts").glob("*.sql"))
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = {row[0] for row in con.sql("select table_name from duckdb_tables()").fetchall()}
        info = con.sql("select engine, n_cities, expected_method_version from national.build_info").fetchone()
    assert tables == {*marts, "build_info"}
    assert info == ("duckdb", len(FIXTURE_CITIES), "1.2")
    # The working folder of the engine stays under <data>/national, never in the repository.
    assert (root / "data" / "national" / "duckdb" / "national_build.duckdb").exists()


def test_compare_snapshots_tolerates_float_noise_only(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, snapshot = built
    marts = national_marts(Settings())
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(snapshot, copy)
    assert compare_snapshots(snapshot, copy, marts) == []
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "update national.national_consideration_spread set median_score = median_score * (1 + 1e-13)"
        )
    assert compare_snapshots(snapshot, copy, marts) == []
    with duckdb.connect(str(copy)) as con:
        con.execute("update national.national_consideration_spread set median_score = median_score + 1e-6")
        con.execute("update national.national_cities set city_name = upper(city_name)")
    differences = compare_snapshots(snapshot, copy, marts)
    assert any(d.startswith("national_consideration_spread.median_score") for d in differences)
    assert "national_cities.city_name: values differ" in differences


def test_cli_export_then_national_build(tmp_path: Path) -> None:
    city = published_city(tmp_path / "city", "Clitown")
    runner = CliRunner()
    exported = runner.invoke(
        app,
        ["export", "--out", str(tmp_path / "exports"), "--data-dir", str(city.resolved_data_dir)],
        env={"CIVICLOOP_CITY_NAME": "Clitown"},
    )
    assert exported.exit_code == 0, exported.output
    assert "request facts not included" in " ".join(exported.output.split())
    built = runner.invoke(
        app,
        ["national", "build", "--exports", str(tmp_path / "exports"), "--data-dir", str(tmp_path / "nat")],
    )
    assert built.exit_code == 0, built.output
    assert (tmp_path / "nat" / "published" / "civicloop_national.duckdb").exists()

    target = next((tmp_path / "exports" / "city=clitown" / "districts").glob("*.parquet"))
    target.write_bytes(target.read_bytes() + b"x")
    refused = runner.invoke(
        app,
        ["national", "build", "--exports", str(tmp_path / "exports"), "--data-dir", str(tmp_path / "nat")],
    )
    assert refused.exit_code == 1
    assert "does not match its sha256" in " ".join(refused.output.split())
    wrong = runner.invoke(app, ["national", "build", "--exports", str(tmp_path), "--engine", "presto"])
    assert wrong.exit_code == 2


def test_every_national_model_and_column_is_documented(built: tuple[Path, Path]) -> None:
    root, _ = built
    manifest = json.loads((root / "data" / "national" / "duckdb" / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) == len(list((PROJECT_ROOT / "dbt_national" / "models").rglob("*.sql")))
    for model in models:
        assert model["description"].strip(), model["name"]
        assert model["columns"], model["name"]
        for column in model["columns"].values():
            assert column["description"].strip(), (model["name"], column["name"])
        if model["name"].startswith("national_"):
            assert model["config"]["contract"]["enforced"], model["name"]


def test_a_folder_with_a_quote_is_refused_before_any_sql(tmp_path: Path) -> None:
    exports = tmp_path / "it's here"
    exports.mkdir()
    with pytest.raises(NationalBuildError, match="quote or backslash"):
        build_national(Settings(data_dir=tmp_path / "data"), exports)
