"""The civicloop command line, driven as a data engineer would."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.ingest import ensure_warehouse_schema
from pipelines.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def test_profile_check_reports_unknown_districts_against_the_warehouse(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        ensure_warehouse_schema(con)
        con.execute("insert into raw.district_aliases values ('d01', 'D01'), ('1', 'D01')")
    export = tmp_path / "city311_2024-01-02.csv"
    export.write_text(
        "Case ID,Opened,Closed,First Response,Status,Service Code,Category,Agency,Ward,Channel,"
        "Description,Reopened,Fixed Confirmed,Reporter Name,Reporter Email,Address,Latitude,Longitude\n"
        "C1,2024-01-02 09:00:00,,,Open,PW01,Roads,PW,Ward 1,phone,Pothole,0,,,,,,\n"
        "C2,2024-01-02 10:00:00,,,Open,PW01,Roads,PW,Ward 77,web,Pothole,0,,,,,,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["profile", "check", str(export), "--profile", "civicloop_city", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.output
    assert "'Ward 77'" in result.output  # the unknown district, named
