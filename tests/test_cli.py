"""The civicloop command line, driven as a data engineer would."""

from __future__ import annotations

import subprocess
import sys
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


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_command_keeps_its_exit_code_and_finalizes_garbage_before_exit(tmp_path: Path) -> None:
    """`civicloop` skips the interpreter's repeated collections at exit (pipelines.process_exit):
    garbage with a finalizer is still finalized, and the command's exit code is kept."""
    finalized = tmp_path / "finalized"
    code = f"""
import gc, sys
gc.disable()
class Cycle:
    def __del__(self):
        open({str(finalized)!r}, "w").write("closed")
loop = Cycle(); loop.self = loop; del loop
sys.argv = ["civicloop", "no-such-command"]
from pipelines.cli import main
main()
"""
    completed = _python(code, tmp_path)
    assert completed.returncode == 2, completed.stderr  # typer's usage error
    assert "No such command" in completed.stderr
    assert finalized.read_text(encoding="utf-8") == "closed"
    shown_help = "import sys; sys.argv = ['civicloop', '--help']\nfrom pipelines.cli import main\nmain()"
    assert _python(shown_help, tmp_path).returncode == 0
