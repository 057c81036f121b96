"""The warm dbt server (pipelines/warm_dbt.py): dbt commands forked from a dbt imported once.

Real processes throughout: the server, the ``civicloop-dbt`` client and dbt itself, against the
project's own dbt project and a scratch DuckDB file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import PROJECT_ROOT
from pipelines.warm_dbt import (
    PARTIAL_PARSE_KEY_FILE,
    SOCKET_ENV,
    WarmDbtServer,
    client_executable,
    partial_parse_stamp,
    plain_dbt_executable,
)

# Not pipelines.defs.transform's: importing it needs a parsed project (its manifest).
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

pytestmark = pytest.mark.skipif(
    not (WarmDbtServer.supported() and client_executable().is_file()),
    reason="the warm dbt server needs Linux and the civicloop-dbt script (make venv)",
)

# Runs until interrupted: DuckDB counts a trillion rows.
ENDLESS_QUERY = "select count(*) as n from range(1000000000000) as t(i) where i % 7 = 3"


@pytest.fixture()
def dbt_environment(tmp_path: Path) -> dict[str, str]:
    """What a build gives dbt: the profile's warehouse path and dbt's own settings."""
    return {
        **os.environ,
        "CIVICLOOP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


@pytest.fixture()
def server(dbt_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[WarmDbtServer]:
    monkeypatch.setenv("CIVICLOOP_WAREHOUSE_PATH", dbt_environment["CIVICLOOP_WAREHOUSE_PATH"])
    warm = WarmDbtServer(DBT_PROJECT_DIR, DBT_PROJECT_DIR)
    yield warm
    if warm.pid and Path(f"/proc/{warm.pid}").exists():
        warm.stop()


def run_client(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(client_executable()), *arguments],
        env=environment,
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_plain(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(plain_dbt_executable()), *arguments], env=environment, capture_output=True, text=True
    )


def forked_dbts(server_pid: int) -> list[int]:
    """The server's children, without the resource tracker dbt's warm-up may have started."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
    pids = [int(child) for child in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if b"resource_tracker" not in command_line(pid)]


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if text.encode() in command_line(pid) and not process_gone(pid)]


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def process_gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return True
    return "zombie" in status.read_text()


def test_a_command_on_the_server_prints_and_exits_as_plain_dbt_does(
    server: WarmDbtServer, dbt_environment: dict[str, str]
) -> None:
    plain = run_plain(["--version"], dbt_environment)
    warm = run_client(["--version"], {**dbt_environment, SOCKET_ENV: server.address})
    assert (warm.returncode, warm.stdout) == (plain.returncode, plain.stdout)

    plain_error = run_plain(["no-such-command"], dbt_environment)
    warm_error = run_client(["no-such-command"], {**dbt_environment, SOCKET_ENV: server.address})
    assert plain_error.returncode != 0
    assert warm_error.returncode == plain_error.returncode
    assert "no-such-command" in warm_error.stderr
    assert server.stop() == 2


def test_a_forked_dbt_checkpoints_its_database_before_it_exits(
    server: WarmDbtServer, dbt_environment: dict[str, str]
) -> None:
    """dbt-duckdb leaves its database to DuckDB's exit hook; the fork skips the interpreter's
    teardown but must still run the exit hooks, or the changes stay in the write-ahead log."""
    seeds = ["kpi_indicator_map", "seed_indicator_catalog"]
    result = run_client(
        ["build", "--select", *seeds, "--indirect-selection", "cautious"],
        {**dbt_environment, SOCKET_ENV: server.address},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    warehouse = Path(dbt_environment["CIVICLOOP_WAREHOUSE_PATH"])
    assert not warehouse.with_name(warehouse.name + ".wal").exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert ("kpi_indicator_map",) in tables
    assert server.stop() == 1


def test_without_a_server_the_client_is_plain_dbt(dbt_environment: dict[str, str], tmp_path: Path) -> None:
    plain = run_plain(["--version"], dbt_environment)
    for environment in (dbt_environment, {**dbt_environment, SOCKET_ENV: str(tmp_path / "gone.sock")}):
        result = run_client(["--version"], environment)
        assert (result.returncode, result.stdout) == (plain.returncode, plain.stdout)


def start_endless_query(server: WarmDbtServer, environment: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """A client running a query that never ends on its own, and the pid of its forked dbt."""
    client = subprocess.Popen(
        [str(client_executable()), "show", "--inline", ENDLESS_QUERY],
        env={**environment, SOCKET_ENV: server.address},
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_until(lambda: forked_dbts(server.pid)), "the server forked no dbt"
    (dbt_pid,) = forked_dbts(server.pid)
    # Let dbt reach the query (its log says so) before interrupting it.
    log = Path(environment["DBT_LOG_PATH"]) / "dbt.log"
    assert wait_until(lambda: log.exists() and "range(1000000000000)" in log.read_text(errors="replace"))
    return client, dbt_pid


@pytest.mark.parametrize(
    "stop_signal",
    [
        # dagster-dbt interrupts a dbt command when a run is cancelled: the client relays it.
        signal.SIGINT,
        # A client killed outright (dagster-dbt's last resort) cannot relay: the server notices.
        signal.SIGKILL,
    ],
)
def test_a_stopped_client_stops_its_dbt(
    server: WarmDbtServer, dbt_environment: dict[str, str], stop_signal: signal.Signals
) -> None:
    client, dbt_pid = start_endless_query(server, dbt_environment)
    client.send_signal(stop_signal)
    assert client.wait(timeout=60) != 0
    assert wait_until(lambda: process_gone(dbt_pid))
    assert wait_until(lambda: forked_dbts(server.pid) == []), "the server did not reap its dbt"


def test_stopping_the_server_stops_a_running_dbt_and_removes_its_folder(
    server: WarmDbtServer, dbt_environment: dict[str, str]
) -> None:
    client, dbt_pid = start_endless_query(server, dbt_environment)
    assert server.stop() == 1
    assert process_gone(dbt_pid)
    assert client.wait(timeout=60) != 0
    assert not Path(server.address).parent.exists()


def test_the_server_ends_when_the_process_that_started_it_dies(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pipelines.warm_dbt import WarmDbtServer\n"
            "server = WarmDbtServer(sys.argv[1], sys.argv[1])\n"
            "print(server.pid, server.address, flush=True)\n"
            "time.sleep(600)\n",
            str(DBT_PROJECT_DIR),
        ],
        env={**os.environ, "CIVICLOOP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    pid, address = starter.stdout.readline().split()
    starter.kill()
    starter.wait()
    assert wait_until(lambda: process_gone(int(pid)), timeout=120)
    # Nobody is left to read what it served, so it removes its folder itself.
    assert not Path(address).parent.exists()


def test_a_server_given_a_stale_partial_parse_parses_for_its_profile_first(
    dbt_environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new data folder reuses the manifest, but dbt's partial-parse file names the old profile.

    The server parses in a forked child beside the run and installs the file with its key, so the
    run's dbt command starts from a partial parse instead of parsing the whole project.
    """
    project = copy_of_the_dbt_project(tmp_path)
    monkeypatch.setenv("CIVICLOOP_WAREHOUSE_PATH", dbt_environment["CIVICLOOP_WAREHOUSE_PATH"])
    warm = WarmDbtServer(project, project, partial_parse_key="key for this profile\n")
    # Ready only once the parse is installed: the dbt step waits for this before dagster-dbt
    # copies the file into the command's folder.
    assert warm.wait_until_ready()
    assert (project / "target" / PARTIAL_PARSE_KEY_FILE).exists()
    assert warm.stop() == 0
    installed = project / "target" / "partial_parse.msgpack"
    recorded = (project / "target" / PARTIAL_PARSE_KEY_FILE).read_text()
    assert recorded == "key for this profile\n" + partial_parse_stamp(project / "target")
    assert partial_parse_stamp(project / "target")
    assert not list((project / "target").glob(".*.tmp"))

    # dbt itself accepts the installed file for this profile: no full parse.
    target = tmp_path / "listing"
    target.mkdir()
    shutil.copy(installed, target / installed.name)
    listing = subprocess.run(
        [str(plain_dbt_executable()), "ls", "--resource-type", "seed", "--target-path", str(target)],
        env={**dbt_environment, "DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)},
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    log = (Path(dbt_environment["DBT_LOG_PATH"]) / "dbt.log").read_text(errors="replace")
    assert "Unable to do partial parsing" not in log
    assert "Partial parsing enabled" in log or "skipping parsing" in log


def copy_of_the_dbt_project(tmp_path: Path) -> Path:
    """The project without its parse results, so that dbt must parse it whole (several seconds)."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    return project


def test_a_server_stopped_while_it_warms_up_is_not_waited_for(
    dbt_environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that ends before its dbt step (a failed gate) must not wait for the warm-up."""
    project = copy_of_the_dbt_project(tmp_path)
    monkeypatch.setenv("CIVICLOOP_WAREHOUSE_PATH", dbt_environment["CIVICLOOP_WAREHOUSE_PATH"])
    warm = WarmDbtServer(project, project, partial_parse_key="key\n")
    assert warm.stop() == 0
    assert process_gone(warm.pid)
    # Its background parse (a fork: the same command line, naming the project copy) went with it.
    assert wait_until(lambda: not processes_naming(str(project)), timeout=3)
    # Stopped in the middle of the parse: nothing was installed, and its folder is gone.
    assert not (project / "target" / PARTIAL_PARSE_KEY_FILE).exists()
    assert not Path(warm.address).parent.exists()
