"""The benchmark harness (pipelines/bench.py) on a tiny city: shape of the results, not timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import bench


def test_steps_map_to_the_reported_stages() -> None:
    assert bench.stage_of_step("ingest_feedback") == "ingest"
    assert bench.stage_of_step("raw__review_decisions") == "ingest"
    assert bench.stage_of_step("ops__load_log") == "ingest"
    assert bench.stage_of_step("raw__feedback_requests_gx_raw_feedback_requests") == "quality"
    assert bench.stage_of_step("ops__load_log_row_conservation") == "quality"
    assert bench.stage_of_step("raw__feedback_text_scores") == "analytics"
    assert bench.stage_of_step("civicloop_dbt_models") == "dbt_build"
    assert bench.stage_of_step("published__civicloop") == "publish"


def test_window_usage_takes_the_peak_inside_the_windows_only() -> None:
    samples = [
        bench.Sample(at=float(t), rss_bytes=rss * bench.MIB, cpu_seconds=float(t))
        for t, rss in [(0, 10), (1, 50), (2, 20), (3, 900), (4, 30)]
    ]
    peak, cpu = bench.window_usage(samples, [(0.5, 2.0)])
    assert peak == 50
    assert cpu == pytest.approx(1.0)


def _measured_build(
    started_at: float, steps: list[tuple[str, float, float]], seconds: float
) -> bench.Measured:
    samples = [
        bench.Sample(at=started_at + t, rss_bytes=(100 + 10 * t) * bench.MIB, cpu_seconds=t)
        for t in range(int(seconds) + 1)
    ]
    return bench.Measured(
        seconds=seconds,
        peak_mib=100 + 10 * seconds,
        cpu_seconds=seconds,
        maxrss_mib=50,
        returncode=0,
        started_at=started_at,
        samples=samples,
        result={
            "run_id": f"run-{started_at:.0f}",
            "steps": [
                {"step_key": key, "start": started_at + start, "end": started_at + end}
                for key, start, end in steps
            ],
        },
    )


def test_repeated_builds_report_the_median_of_each_stage_and_keep_every_run() -> None:
    runs = [
        _measured_build(0, [("ingest_feedback", 1, 5), ("civicloop_dbt_models", 5, 8)], 10),
        _measured_build(100, [("ingest_feedback", 1, 3), ("civicloop_dbt_models", 3, 9)], 12),
        _measured_build(200, [("ingest_feedback", 1, 4), ("civicloop_dbt_models", 4, 5)], 6),
    ]
    combined = bench.median_of_runs(runs)
    assert combined["seconds"] == 10
    assert combined["stages"]["ingest"]["seconds"] == 3  # of 4, 2 and 3
    assert combined["stages"]["dbt_build"]["seconds"] == 3  # of 3, 6 and 1
    assert combined["stages"]["orchestration"]["seconds"] == 3  # of 3, 4 and 2
    assert combined["peak_mib"] == 220  # the largest, not a median
    assert [run["seconds"] for run in combined["runs"]] == [10, 12, 6]
    assert combined["runs"][1]["stages"] == {"ingest": 2, "dbt_build": 6, "orchestration": 4}
    assert bench.median_of_runs(runs[:1])["stages"]["ingest"]["seconds"] == 4


def test_tree_usage_counts_a_child_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(64 << 20); time.sleep(3)"])
    try:
        time.sleep(1.0)
        alone_rss, _ = bench.tree_usage(child.pid)
        with_parent_rss, _ = bench.tree_usage(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert alone_rss > 60 * bench.MIB
    assert with_parent_rss > alone_rss


def test_floor_queries_cover_the_core_aggregates() -> None:
    names = [name for name, _ in bench.floor_queries(Path("/x/raw/feedback"), Path("/x/raw/reference"))]
    for aggregate in (
        "district_month_counts",
        "resolution_by_service",
        "sla_share",
        "channel_share",
        "district_disparity",
    ):
        assert aggregate in names


@pytest.mark.slow
def test_harness_on_a_tiny_city_reports_every_stage(tmp_path: Path) -> None:
    written = bench.run_benchmark(
        [5_000],
        out_dir=tmp_path / "results",
        work_dir=tmp_path / "work",
        dashboard_runs=2,
        quarters=4,
        respondents_per_wave=300,
        build_runs=2,
        log=lambda _line: None,
    )
    assert len(written) == 1
    result = json.loads(written[0].read_text(encoding="utf-8"))
    assert result["n_requests"] == 5_000
    for key in ("cores", "ram_gib", "python", "duckdb"):
        assert result["machine"][key]
    for section in ("generation", "full_build", "floor", "incremental"):
        assert result[section]["seconds"] > 0, section
        assert result[section]["peak_mib"] > 0, section
    stages = result["full_build"]["stages"]
    for stage in bench.BUILD_STAGES:
        assert stages[stage]["seconds"] >= 0, stage
        assert stages[stage]["peak_mib"] > 0, stage
        assert "ratio_to_floor" in stages[stage], stage
    assert "other" not in stages, stages.get("other")
    assert result["incremental"]["stages"]["ingest"]["seconds"] > 0
    # Two full builds, each from the generated city, and two increments on successive days.
    for section in ("full_build", "incremental"):
        runs = result[section]["runs"]
        assert len(runs) == 2 and all(run["seconds"] > 0 for run in runs), section
        assert result[section]["seconds"] == pytest.approx(sum(run["seconds"] for run in runs) / 2, abs=1e-3)
    assert result["full_build"]["runs"][0]["run_id"] != result["full_build"]["runs"][1]["run_id"]
    assert "full build: each run" in (tmp_path / "results" / "latest.md").read_text(encoding="utf-8")
    pages = result["dashboard"]["pages"]
    assert set(pages) == {
        "overview",
        "consideration",
        "equity",
        "resident_voice",
        "survey",
        "data_health",
    }
    searches = result["dashboard"]["searches"]
    assert set(searches) == {"latest comments", "common term", "absent term (full scan)"}
    for timed in (*pages.values(), *searches.values()):
        assert timed["p50_ms"] > 0 and timed["p95_ms"] >= timed["p50_ms"]
        assert not timed["errors"]
    assert (tmp_path / "results" / "latest.md").read_text(encoding="utf-8").startswith("Machine:")
    assert not Path(result["data_dir"]).exists(), "the scratch city is removed unless keep=True"
