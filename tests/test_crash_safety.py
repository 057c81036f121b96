"""Issue 8: ``kill -9`` of a real ``civicloop build`` during ingest, dbt build and publish.

Each build runs as ``python -m pipelines.cli build`` in its own process group (the dbt subprocess
Dagster starts is in it too), and the whole group gets SIGKILL: what a power cut or the OOM killer
does. The kill is timed by what the build itself shows, with no hook in the code:

* ingest  - the Dagster log line ``Started execution of step "ingest_feedback"``, then the first
  feedback file appearing in the raw archive (the batch has just committed; files are moving);
* dbt     - the first asset materialisation after ``Started execution of step "civicloop_dbt_models"``
  (dbt is then writing models into the working warehouse);
* publish - the staging file ``published/.civicloop.duckdb.<build_id>.tmp`` appearing.

After every kill: the published snapshot is the previous good one (``ops.build_info.build_id``),
the next plain ``civicloop build`` completes, and at the end no row is duplicated or lost against a
clean in-process ingest of the same city.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate_city
from pipelines.ingest import ensure_warehouse_schema, ingest_source
from pipelines.settings import PROJECT_ROOT, SOURCES, Settings
from pipelines.warehouse import connect, publish_snapshot

TINY_CITY = {"n_requests": 2000, "quarters": 2, "survey_respondents_per_wave": 100}
BUILD_TIMEOUT_S = 900
STEP_START = 'Started execution of step "{}"'


class BuildProcess:
    """A ``civicloop build`` subprocess whose merged output is collected line by line."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "CIVICLOOP_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "build", "--no-docs"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: the kill reaches dbt as well
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, condition: Callable[[], bool], what: str, poll_s: float = 0.002) -> None:
        """Poll until condition holds; fail with the output tail if the build ends or times out."""
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while not condition():
            if self.process.poll() is not None and not condition():
                pytest.fail(f"build ended before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"timed out waiting for {what}:\n{self.tail()}")
            time.sleep(poll_s)

    def saw(self, text: str, after: int = 0) -> bool:
        return any(text in line for line in self.lines[after:])

    def line_index(self, text: str) -> int:
        return next(i for i, line in enumerate(self.lines) if text in line)

    def kill(self) -> None:
        """SIGKILL the whole process group, then reap the leader."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=BUILD_TIMEOUT_S)
        finally:
            self.kill()  # reaps stragglers of the group (none expected) on success and on failure

    def tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])


def _published_build_id(settings: Settings) -> str | None:
    if not settings.published_path.exists():
        return None
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.sql("select build_id from ops.build_info").fetchone()[0]


def _raw_figures(warehouse: Path) -> dict[str, object]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures: dict[str, object] = {
            "requests": con.sql(
                "select count(*), count(distinct request_id) from raw.feedback_requests"
            ).fetchone(),
            "history": con.sql("select count(*) from raw.feedback_status_history").fetchone()[0],
            "kpis": con.sql("select count(*) from raw.kpi_observations").fetchone()[0],
            "respondents": con.sql("select count(*) from raw.survey_respondents").fetchone()[0],
            "answers": con.sql("select count(*) from raw.survey_answers").fetchone()[0],
            "quarantine": con.sql("select count(*) from ops.quarantine").fetchone()[0],
            "loaded_files": con.sql(
                "select count(*), count(distinct sha256) from ops.load_log where status = 'loaded'"
            ).fetchone(),
            "sha_loaded_twice": con.sql(
                "select count(*) from (select sha256 from ops.load_log where status = 'loaded' "
                "group by sha256 having count(*) > 1)"
            ).fetchone()[0],
        }
    return figures


def _clean_figures(city: Path, tmp: Path) -> dict[str, object]:
    """The same city ingested in-process with no interruption: the reference figures."""
    shutil.copytree(city / "inbox", tmp / "inbox")
    settings = Settings(data_dir=tmp)
    with connect(settings) as con:
        for source in SOURCES:
            ingest_source(con, settings, source)
    return _raw_figures(settings.warehouse_path)


def _stale_tmp_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.published_path.parent.glob(".civicloop.duckdb.*.tmp*"))


@pytest.mark.slow
def test_kill_9_during_ingest_dbt_and_publish_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_city(city, seed=8, **TINY_CITY)
    clean = _clean_figures(city, tmp_path / "clean")
    data = tmp_path / "data"
    shutil.copytree(city, data)
    settings = Settings(data_dir=data)
    timings: dict[str, float] = {}
    archive = settings.raw_archive_dir("feedback")

    # (a) ingest: no snapshot exists yet, so none may appear.
    build = BuildProcess(data)
    build.wait_for(lambda: build.saw(STEP_START.format("ingest_feedback")), "ingest_feedback")
    build.wait_for(lambda: any(archive.glob("*/*")) or build.saw("ingest_kpis"), "a committed batch")
    left_in_inbox = len(list(settings.inbox_dir("feedback").iterdir()))
    build.kill()
    timings["a_killed_at_s"] = time.monotonic() - build.started
    assert _published_build_id(settings) is None
    assert not settings.published_path.exists()

    # The next build recovers on its own: same rows as the clean ingest, one loaded row per file.
    build = BuildProcess(data)
    assert build.finish() == 0, build.tail()
    timings["recovery_build_s"] = time.monotonic() - build.started
    first = _published_build_id(settings)
    assert first is not None
    assert _raw_figures(settings.warehouse_path) == clean

    # (b) dbt build: the snapshot stays the previous one.
    build = BuildProcess(data)
    dbt_start = STEP_START.format("civicloop_dbt_models")
    build.wait_for(lambda: build.saw(dbt_start), "dbt start")
    after = build.line_index(dbt_start)
    build.wait_for(lambda: build.saw("ASSET_MATERIALIZATION", after + 1), "a dbt model")
    build.kill()
    timings["b_killed_at_s"] = time.monotonic() - build.started
    assert _published_build_id(settings) == first

    # (c) publish: killed with the staging copy half written. The build after (b) got this far,
    # which is the evidence that a dbt kill needs no manual step.
    build = BuildProcess(data)
    published_dir = settings.published_path.parent
    build.wait_for(lambda: any(published_dir.glob(".civicloop.duckdb.*.tmp")), "the publish staging file")
    build.kill()
    timings["c_killed_at_s"] = time.monotonic() - build.started
    assert _published_build_id(settings) == first
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        assert con.sql("select count(*) from marts.indicator_values").fetchone()[0] > 0
    stale_after_kill = _stale_tmp_files(settings)

    build = BuildProcess(data)
    assert build.finish() == 0, build.tail()
    timings["final_build_s"] = time.monotonic() - build.started
    second = _published_build_id(settings)
    assert second not in (None, first)
    assert _raw_figures(settings.warehouse_path) == clean
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        per_sha = con.sql(
            "select sha256, count(*) filter (where status = 'loaded') from ops.load_log group by sha256"
        ).fetchall()
    assert per_sha and all(n == 1 for _, n in per_sha), "every file sha has exactly one loaded row"
    print(  # the figures for the report (pytest -s)
        f"\ncrash figures: {timings}, feedback files still in the inbox at kill (a): "
        f"{left_in_inbox}, stale staging files after kill (c): {stale_after_kill}, "
        f"after the next build: {_stale_tmp_files(settings)}, clean: {clean}"
    )


# --- the worst ingest moment, hit deterministically ---------------------------------------------

KILL_ON_THIRD_ARCHIVE = textwrap.dedent(
    """
    import os, signal, sys
    import duckdb
    from pipelines.ingest import loader
    from pipelines.settings import Settings
    from pipelines.warehouse import connect

    settings = Settings(data_dir=sys.argv[1])
    moved = 0
    original = loader._archive

    def archive_then_die(path, folder, sha):
        # SIGKILL while the committed batch's files are being moved out of the inbox.
        global moved
        original(path, folder, sha)
        if "/raw/feedback/" in str(folder):  # reference files are archived too: not those
            moved += 1
            if moved == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    loader._archive = archive_then_die
    with connect(settings) as con:
        loader.ingest_source(con, settings, "reference")
        loader.ingest_source(con, settings, "feedback")
    """
)


@pytest.mark.slow
def test_kill_between_commit_and_archive_neither_duplicates_nor_loses_rows(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_city(city, seed=8, **TINY_CITY)
    for source in ("kpis", "survey", "reviews"):
        shutil.rmtree(city / "inbox" / source)
    clean = _clean_figures(city, tmp_path / "clean")
    data = tmp_path / "data"
    shutil.copytree(city, data)
    settings = Settings(data_dir=data)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_ON_THIRD_ARCHIVE, str(data)], cwd=PROJECT_ROOT, timeout=600, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    stranded = sorted(p.name for p in settings.inbox_dir("feedback").iterdir())
    assert stranded, "the kill must leave committed files in the inbox"
    with connect(settings) as con:
        ingest_source(con, settings, "feedback")
        statuses = dict(
            con.execute(
                "select file, status from ops.load_log where file in (select unnest(?::varchar[])) "
                "and loaded_at = (select max(loaded_at) from ops.load_log)",
                [stranded],
            ).fetchall()
        )
    # The stranded files were committed before the kill: the rerun logs them as duplicates.
    assert set(statuses.values()) == {"duplicate"} and len(statuses) == len(stranded)
    assert not any(settings.inbox_dir("feedback").iterdir())
    assert _raw_figures(settings.warehouse_path) == clean


def test_figures_helper_sees_duplicates(tmp_path: Path) -> None:
    """The invariant helper itself: a duplicated loaded sha and a duplicated request are seen."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_warehouse_schema(con)
        con.execute("insert into raw.feedback_requests (request_id) values ('a'), ('a')")
        con.execute("insert into ops.load_log (sha256, status) values ('x', 'loaded'), ('x', 'loaded')")
    figures = _raw_figures(path)
    assert figures["requests"] == (2, 1)
    assert figures["loaded_files"] == (2, 1)
    assert figures["sha_loaded_twice"] == 1


def test_publish_removes_staging_files_left_by_a_killed_publish(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with connect(settings) as con:
        con.execute("create schema marts")
        con.execute("create table marts.indicator_values as select 1 as value")
    stale = settings.published_path.with_name(".civicloop.duckdb.0123456789ab.tmp")
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a snapshot")
    publish_snapshot(settings, build_id="fedcba987654")
    assert settings.published_path.exists()
    assert _stale_tmp_files(settings) == []
