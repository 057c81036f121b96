"""The performance benchmark behind ``civicloop bench`` (issue 7).

For each city size N the benchmark, in fresh processes so that one stage's memory does not hide
another's:

1. generates the city (``generate_city``) in a child process;
2. runs one real full build (``run_build``, job ``build_all``) in a child process and splits it
   into stages from the Dagster event log (STEP_START / STEP_SUCCESS timestamps): ingest, quality
   checks, analytics, dbt build, publish, plus the orchestration time around the steps (imports,
   ``dbt parse``, Dagster start-up); with ``build_runs`` > 1, that many, each from the generated
   city, and the medians are reported;
3. adds one day of feedback (``generate_feedback_day``, N/730 requests) and runs the
   ``refresh_feedback`` job: the daily increment on top of the full history (``build_runs`` times,
   on successive days);
4. measures the floor: DuckDB alone reading the archived raw feedback files into a table and
   computing the core aggregates (district x month counts, median/p90 resolution hours per
   service, SLA share, channel share, a district disparity ratio);
5. times the dashboard's heaviest queries (``dashboards.data``, uncached, one fresh read-only
   connection per query as on a snapshot change), 20 runs each, p50/p95: each page's load, and
   apart from them the on-demand comment search (latest, a common term, an absent term).

Memory: a sampler thread in the parent reads ``/proc/<pid>/stat`` of the child and all its
descendants (dbt runs as a grandchild) every 50 ms; a stage's peak is the largest summed RSS seen
inside its step windows. CPU seconds (user + system, descendants included) are recorded too: on a
shared, noisy machine they vary less than wall time.

Results go to ``<out>/<timestamp>-<N>.json`` and a Markdown table to ``<out>/latest.md``.
Targets from the issue are reported, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.settings import PROJECT_ROOT

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
SAMPLE_INTERVAL_S = 0.05
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results"
DEFAULT_WORK_DIR = Path("/tmp/civicloop-bench")
BUILD_STAGES = ("ingest", "quality", "analytics", "dbt_build", "publish", "orchestration")
DAYS_OF_HISTORY = 730  # 8 quarters

# Targets from issue 7 (reported against, never asserted).
TARGETS = {
    "full_build_vs_floor_max_10m": 3.0,
    "full_build_peak_gib_max_10m": 8.0,
    "end_to_end_seconds_max_1m": 45.0,
    "incremental_seconds_max_10m": 15.0,
    "dashboard_p95_ms_max_10m": 300.0,
    "generation_peak_gib_max_10m": 2.0,
}


# --- process-tree sampling ----------------------------------------------------------------


def _read_stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, rss bytes, cpu seconds incl. reaped children) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:  # noqa: PTH123 - hot path, 20 Hz
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    # fields[0] is field 3 (state): ppid = 4, utime..cstime = 14..17, rss = 24 (1-based).
    ppid = int(fields[1])
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ppid, int(fields[21]) * PAGE_SIZE, ticks / CLOCK_TICKS


def tree_usage(root: int) -> tuple[int, float]:
    """Summed RSS (bytes) and CPU seconds of ``root`` and every live descendant."""
    stats: dict[int, tuple[int, int, float]] = {}
    for entry in os.listdir("/proc"):  # noqa: PTH208 - 20 Hz; no Path objects per process
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    rss, cpu, stack = 0, 0.0, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            rss += stats[pid][1]
            cpu += stats[pid][2]
        stack.extend(children.get(pid, ()))
    return rss, cpu


@dataclass
class Sample:
    """One observation of a process tree."""

    at: float
    rss_bytes: int
    cpu_seconds: float


class TreeSampler(threading.Thread):
    """Samples a process tree's RSS and CPU time every ``interval`` seconds until stopped."""

    def __init__(self, root: int, interval: float = SAMPLE_INTERVAL_S) -> None:
        super().__init__(daemon=True, name=f"bench-sampler-{root}")
        self.root = root
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss, cpu = tree_usage(self.root)
            if rss:
                self.samples.append(Sample(time.time(), rss, cpu))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[Sample]:
        self._stop_event.set()
        self.join()
        return self.samples


def window_usage(samples: Sequence[Sample], windows: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """(peak MiB, CPU seconds) of the samples inside the given [start, end] windows."""
    peak, cpu = 0, 0.0
    for start, end in windows:
        inside = [s for s in samples if start - SAMPLE_INTERVAL_S <= s.at <= end + SAMPLE_INTERVAL_S]
        if inside:
            peak = max(peak, max(s.rss_bytes for s in inside))
            cpu += inside[-1].cpu_seconds - inside[0].cpu_seconds
    return peak / MIB, max(cpu, 0.0)


@dataclass
class Measured:
    """A child process run to completion under the sampler."""

    seconds: float
    peak_mib: float
    cpu_seconds: float
    maxrss_mib: float  # the child's own ru_maxrss (largest single process in its tree)
    returncode: int
    started_at: float
    samples: list[Sample] = field(repr=False, default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False


def run_measured(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
    result_path: Path | None = None,
    module: str = "pipelines.bench",
) -> Measured:
    """Run ``python -m <module> <args>`` in a child process and measure its whole tree."""
    command = [sys.executable, "-m", module, *args]
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    started = time.time()
    try:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        timed_out = False
        deadline = started + timeout if timeout else None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline and time.time() > deadline:
                timed_out = True
                os.killpg(process.pid, 15)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        finished = time.time()
        samples = sampler.stop()
    finally:
        if log_path and not isinstance(log, int):
            log.close()
    peak = max((s.rss_bytes for s in samples), default=0) / MIB
    cpu = samples[-1].cpu_seconds - samples[0].cpu_seconds if len(samples) > 1 else 0.0
    cpu = max(cpu, (usage.ru_utime + usage.ru_stime))
    result = {}
    if result_path and result_path.exists():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return Measured(
        seconds=finished - started,
        peak_mib=peak,
        cpu_seconds=cpu,
        maxrss_mib=usage.ru_maxrss / 1024,
        returncode=process.returncode,
        started_at=started,
        samples=samples,
        result=result,
        timed_out=timed_out,
    )


# --- stage attribution --------------------------------------------------------------------


def _check_names() -> tuple[str, ...]:
    # Read from the check definitions so that a new check is counted as quality without edits here.
    from pipelines.defs.checks import asset_checks

    return tuple(spec.name for checks in asset_checks for spec in checks.check_specs)


def stage_of_step(step_key: str) -> str:
    """Which reported stage a Dagster step of the civicloop jobs belongs to."""
    if step_key.endswith(tuple(f"_{name}" for name in _check_names())):
        return "quality"
    if step_key.startswith("ingest_") or step_key in ("raw__review_decisions", "ops__load_log"):
        return "ingest"
    if step_key in ("raw__survey_weights", "raw__feedback_text_scores"):
        return "analytics"
    if step_key == "civicloop_dbt_models":
        return "dbt_build"
    if step_key.startswith("published__"):
        return "publish"
    return "other"


def split_build(measured: Measured) -> dict[str, dict[str, Any]]:
    """Per-stage seconds, peak MiB and CPU seconds of a measured build from its step windows."""
    steps = measured.result.get("steps", [])
    windows: dict[str, list[tuple[float, float]]] = {}
    for step in steps:
        windows.setdefault(stage_of_step(step["step_key"]), []).append((step["start"], step["end"]))
    stages: dict[str, dict[str, Any]] = {}
    for stage, spans in windows.items():
        peak, cpu = window_usage(measured.samples, spans)
        stages[stage] = {
            "seconds": round(sum(end - start for start, end in spans), 3),
            "peak_mib": round(peak, 1),
            "cpu_seconds": round(cpu, 2),
            "steps": sorted({s["step_key"] for s in steps if stage_of_step(s["step_key"]) == stage}),
        }
    # Everything outside the steps: interpreter start, imports, dbt parse, Dagster run set-up.
    in_steps = sum(stage["seconds"] for stage in stages.values())
    outside = _complement(
        measured.started_at,
        measured.started_at + measured.seconds,
        [span for spans in windows.values() for span in spans],
    )
    peak, cpu = window_usage(measured.samples, outside)
    stages["orchestration"] = {
        "seconds": round(max(measured.seconds - in_steps, 0.0), 3),
        "peak_mib": round(peak, 1),
        "cpu_seconds": round(cpu, 2),
        "steps": ["(imports, dbt parse, Dagster set-up, between steps)"],
    }
    return stages


def _complement(start: float, end: float, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    gaps, cursor = [], start
    for span_start, span_end in sorted(spans):
        if span_start > cursor:
            gaps.append((cursor, span_start))
        cursor = max(cursor, span_end)
    if end > cursor:
        gaps.append((cursor, end))
    return gaps


# --- machine ------------------------------------------------------------------------------


def _meminfo_mib(key: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_info() -> dict[str, Any]:
    """Cores, RAM, load and the versions that matter for the figures."""
    from importlib.metadata import version

    def _version(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "not installed"

    return {
        "cores": os.cpu_count(),
        "ram_gib": round(_meminfo_mib("MemTotal") / 1024, 1),
        "available_gib_at_start": round(_meminfo_mib("MemAvailable") / 1024, 1),
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{
            name: _version(name)
            for name in ("duckdb", "polars", "dagster", "dbt-core", "dbt-duckdb", "great-expectations")
        },
    }


# --- child-process work (run as ``python -m pipelines.bench <task> ...``) ------------------


def _task_generate(
    data_dir: Path, n_requests: int, quarters: int, respondents: int, seed: int, result_path: Path
) -> None:
    from pipelines.generate import generate_city

    truth = generate_city(
        data_dir, n_requests=n_requests, quarters=quarters, survey_respondents_per_wave=respondents, seed=seed
    )
    result_path.write_text(
        json.dumps(
            {
                "end_exclusive": truth["end_exclusive"],
                "requests_written": truth["feedback"]["requests_written"],
            }
        )
    )


def _task_generate_day(data_dir: Path, day: dt.date, n_requests: int, seed: int, result_path: Path) -> None:
    from pipelines.generate import generate_feedback_day

    paths = generate_feedback_day(data_dir, day, n_requests=n_requests, seed=seed)
    result_path.write_text(json.dumps({"files": [str(p) for p in paths]}))


def _task_build(data_dir: Path, job_name: str, result_path: Path, profile_path: Path | None) -> None:
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    import dagster as dg

    from pipelines.build import DbtParseError, run_build
    from pipelines.settings import Settings

    settings = Settings(data_dir=data_dir)

    def build() -> Any:
        for attempt in range(3):  # dbt_project/target is shared: a parse can collide with another
            try:
                return run_build(settings, job_name=job_name)
            except DbtParseError:
                if attempt == 2:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    if profile_path is not None:
        import cProfile

        profiler = cProfile.Profile()
        outcome = profiler.runcall(build)
        profiler.dump_stats(str(profile_path))
    else:
        outcome = build()
    starts: dict[str, float] = {}
    steps = []
    with dg.DagsterInstance.get() as instance:
        for record in instance.all_logs(outcome.run_id):
            event = record.dagster_event
            if event is None or not record.step_key:
                continue
            if event.event_type_value == "STEP_START":
                starts[record.step_key] = record.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                if record.step_key in starts:
                    steps.append(
                        {
                            "step_key": record.step_key,
                            "start": starts[record.step_key],
                            "end": record.timestamp,
                            "outcome": event.event_type_value,
                        }
                    )
    result_path.write_text(
        json.dumps(
            {
                "run_id": outcome.run_id,
                "success": outcome.success,
                "published": outcome.published,
                "failed_steps": outcome.failed_steps,
                "failed_checks": outcome.failed_checks,
                "steps": steps,
            }
        )
    )


def floor_queries(raw_feedback_dir: Path, raw_reference_dir: Path) -> list[tuple[str, str]]:
    """The floor as (name, SQL) pairs: load the archived feedback files, then the core aggregates.

    File globs are quoted literals because DuckDB table functions take no bound parameters for
    their file list; the paths come from the benchmark's own data directory.
    """

    def lit(path: Path) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    csv_glob = lit(raw_feedback_dir / "**" / "*.csv")
    json_glob = lit(raw_feedback_dir / "**" / "*.json")
    districts_glob = lit(raw_reference_dir / "**" / "*districts.csv")
    services_glob = lit(raw_reference_dir / "**" / "*services.csv")
    ts = "try_cast(replace(left({0}, 19), 'T', ' ') as timestamp)"
    ext = (
        "struct(district varchar, channel varchar, closed_datetime varchar, first_response_datetime varchar)"
    )
    return [
        (
            "load_reference",
            f"""
            create or replace table aliases as
            select distinct lower(trim(alias)) as alias, district_code from (
                select district_code, unnest(string_split(aliases, '|') || [district_code]) as alias
                from read_csv({districts_glob}, union_by_name = true, all_varchar = true));
            create or replace table services as
            select distinct service_code, try_cast(sla_days as double) as sla_days
            from read_csv({services_glob}, union_by_name = true, all_varchar = true);""",
        ),
        (
            "load_csv",
            f"""
            create or replace table req_csv as
            select "Case ID" as request_id, {ts.format('"Opened"')} as opened_at,
                   {ts.format('"Closed"')} as closed_at, "Service Code" as service_code,
                   "Ward" as district, lower(trim("Channel")) as channel
            from read_csv({csv_glob}, union_by_name = true, all_varchar = true,
                          ignore_errors = true, strict_mode = false)""",
        ),
        (
            "load_json",
            f"""
            create or replace table req_json as
            select service_request_id as request_id, {ts.format("requested_datetime")} as opened_at,
                   {ts.format("extended_attributes.closed_datetime")} as closed_at, service_code,
                   extended_attributes.district as district,
                   lower(trim(extended_attributes.channel)) as channel
            from read_json({json_glob}, format = 'array', union_by_name = true,
                           columns = {{service_request_id: 'varchar', service_code: 'varchar',
                                       requested_datetime: 'varchar', updated_datetime: 'varchar',
                                       extended_attributes: '{ext}'}})""",
        ),
        (
            "requests",
            """
            create or replace table requests as
            select r.request_id, r.opened_at, r.closed_at, r.service_code, a.district_code,
                   r.channel, date_diff('second', r.opened_at, r.closed_at) / 3600.0 as hours
            from (select * from req_csv union all by name select * from req_json) r
            join aliases a on a.alias = lower(trim(r.district))
            where r.request_id is not null and r.opened_at is not null
            qualify row_number() over (partition by r.request_id
                                       order by r.closed_at desc nulls last) = 1""",
        ),
        (
            "district_month_counts",
            """
            select district_code, date_trunc('month', opened_at) as month, count(*) as n
            from requests group by all""",
        ),
        (
            "resolution_by_service",
            """
            select service_code, median(hours) as median_h, quantile_cont(hours, 0.9) as p90_h
            from requests where hours >= 0 group by all""",
        ),
        (
            "sla_share",
            """
            select date_trunc('month', r.opened_at) as month,
                   avg(case when r.hours <= s.sla_days * 24 then 1.0 else 0.0 end) as sla_share
            from requests r join services s using (service_code)
            where r.hours >= 0 group by all""",
        ),
        (
            "channel_share",
            """
            select month, channel, n / sum(n) over (partition by month) as share from (
                select date_trunc('month', opened_at) as month, channel, count(*) as n
                from requests group by all)""",
        ),
        (
            "district_disparity",
            """
            select max(m) / nullif(min(m), 0) as disparity_ratio from (
                select district_code, median(hours) as m from requests
                where hours >= 0 group by all)""",
        ),
    ]


def _task_floor(data_dir: Path, db_path: Path, memory_limit: str, threads: int, result_path: Path) -> None:
    import duckdb

    db_path.unlink(missing_ok=True)
    con = duckdb.connect(str(db_path), config={"memory_limit": memory_limit, "threads": threads})
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    try:
        for name, sql in floor_queries(data_dir / "raw" / "feedback", data_dir / "raw" / "reference"):
            started = time.perf_counter()
            if name.startswith(("load_", "requests")):
                con.execute(sql)
            else:
                rows[name] = len(con.sql(sql).fetchall())
            timings[name] = round(time.perf_counter() - started, 3)
        rows["requests"] = int(con.sql("select count(*) from requests").fetchall()[0][0])
    finally:
        con.close()
        db_path.unlink(missing_ok=True)
    result_path.write_text(json.dumps({"queries_seconds": timings, "rows": rows}))


def dashboard_calls(data: Any) -> dict[str, list[tuple[str, Callable[[], Any]]]]:
    """The queries each dashboard page runs on load (the heaviest ones), as callables."""
    quarter = data.quarters()[-1]
    survey_period = data.survey_periods()[-1]
    question = str(data.survey_questions()["question_id"].iloc[0])
    return {
        "overview": [
            ("consideration_scores", data.consideration_scores),
            ("composite_scores", data.composite_scores),
            ("indicator_scores", lambda: data.indicator_scores(quarter)),
        ],
        "consideration": [
            ("indicator_series", lambda: data.indicator_series(1, "city")),
            ("targets_history", lambda: data.targets_history(1)),
            ("district_values", lambda: data.district_values(quarter, 1)),
        ],
        "equity": [
            ("disparity_ratios", lambda: data.disparity_ratios(quarter)),
            ("equity_theil", lambda: _call_flexibly(data.equity_theil, quarter)),
            ("reporting_rates", lambda: data.reporting_rates(quarter)),
            ("districts", data.districts),
        ],
        "resident_voice": [
            ("comment_topics", data.comment_topics),
            ("text_trends", data.text_trends),
            ("feedback_funnel", data.feedback_funnel),
            ("districts", data.districts),
        ],
        "survey": [
            ("survey_estimates", lambda: data.survey_estimates(survey_period, question)),
            ("survey_estimates_all_periods", lambda: data.survey_estimates(None, question)),
        ],
        "data_health": [
            ("source_freshness", data.source_freshness),
            ("load_summary", data.load_summary),
            ("load_log", data.load_log),
            ("quarantine_reasons", data.quarantine_reasons),
        ],
    }


def comment_searches(data: Any) -> dict[str, list[tuple[str, Callable[[], Any]]]]:
    """The resident-voice comment reads, which run on demand (never on page load), as callables.

    A common term and the latest comments stop early (newest-first over rows stored in opened
    order); a term no comment contains reads every description: the worst case.
    """
    return {
        "latest comments": [("search_comments_latest", lambda: data.search_comments("", limit=50))],
        "common term": [("search_comments_common", lambda: data.search_comments("pothole", limit=50))],
        "absent term (full scan)": [
            ("search_comments_absent", lambda: data.search_comments("no comment says qzxv", limit=50))
        ],
    }


def _call_flexibly(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function`` with as many of ``args`` as it accepts (dashboards.data signatures move)."""
    import inspect

    accepted = len(inspect.signature(function).parameters)
    return function(*args[:accepted])


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def _task_dashboard(data_dir: Path, runs: int, result_path: Path) -> None:
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    import duckdb

    from dashboards import data

    def uncached(version: tuple[str, int, int, int], sql: str, params: tuple) -> Any:
        # Same body as dashboards.data._run without st.cache_data: every call is a cache miss.
        con = duckdb.connect(version[0], read_only=True)
        try:
            return con.execute(sql, list(params)).df()
        finally:
            con.close()

    data._run = uncached  # type: ignore[assignment]
    result = {
        "runs": runs,
        "pages": _timed_calls(dashboard_calls(data), runs),
        "searches": _timed_calls(comment_searches(data), runs),
    }
    result_path.write_text(json.dumps(result))


def _timed_calls(groups: dict[str, list[tuple[str, Callable[[], Any]]]], runs: int) -> dict[str, Any]:
    """p50/p95 of each group of calls (a page's queries) and of each call, over ``runs`` runs."""
    timed: dict[str, Any] = {}
    for group, calls in groups.items():
        group_ms: list[float] = []
        query_ms: dict[str, list[float]] = {name: [] for name, _ in calls}
        errors: dict[str, str] = {}
        for _ in range(runs):
            group_started = time.perf_counter()
            for name, call in calls:
                if name in errors:
                    continue
                started = time.perf_counter()
                try:
                    call()
                except Exception as exc:  # a snapshot older or newer than dashboards/data.py
                    errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    continue
                query_ms[name].append((time.perf_counter() - started) * 1000)
            group_ms.append((time.perf_counter() - group_started) * 1000)
        timed[group] = {
            "errors": errors,
            "p50_ms": round(_percentile(group_ms, 50), 1),
            "p95_ms": round(_percentile(group_ms, 95), 1),
            "queries": {
                name: {"p50_ms": round(_percentile(ms, 50), 1), "p95_ms": round(_percentile(ms, 95), 1)}
                for name, ms in query_ms.items()
                if ms
            },
        }
    return timed


def _worker_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench")
    parser.add_argument("task", choices=["generate", "generate-day", "build", "floor", "dashboard"])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--respondents", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--day", type=dt.date.fromisoformat)
    parser.add_argument("--job", default="build_all")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.task == "generate":
        _task_generate(args.data_dir, args.requests, args.quarters, args.respondents, args.seed, args.result)
    elif args.task == "generate-day":
        _task_generate_day(args.data_dir, args.day, args.requests, args.seed, args.result)
    elif args.task == "build":
        _task_build(args.data_dir, args.job, args.result, args.profile)
    elif args.task == "floor":
        _task_floor(
            args.data_dir, args.data_dir / "bench_floor.duckdb", args.memory_limit, args.threads, args.result
        )
    else:
        _task_dashboard(args.data_dir, args.runs, args.result)


# --- the benchmark ------------------------------------------------------------------------


class BenchmarkError(RuntimeError):
    """A measured child process failed; its log path is in the message."""


def default_respondents_per_wave(n_requests: int, quarters: int) -> int:
    """1,500 per wave (the demo default) up to 1M requests; 40k in total for a 10M city."""
    return max(1_500, round(40_000 / quarters)) if n_requests >= 5_000_000 else 1_500


def _measured_summary(measured: Measured) -> dict[str, Any]:
    return {
        "seconds": round(measured.seconds, 3),
        "peak_mib": round(measured.peak_mib, 1),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "largest_process_maxrss_mib": round(measured.maxrss_mib, 1),
    }


def benchmark_size(
    n_requests: int,
    *,
    work_dir: Path,
    quarters: int = 8,
    respondents_per_wave: int | None = None,
    seed: int = 20261128,
    dashboard_runs: int = 20,
    timeout: float | None = None,
    profile: bool = False,
    build_runs: int = 1,
    log: Callable[[str], None] = print,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate, build, increment, floor and dashboard for one city size; returns the result dict.

    ``build_runs`` full builds (each from the generated city) and as many one-day increments (on
    successive days) are measured; their medians are reported, each run is kept under ``runs``.
    ``result`` (if given) is filled in as the stages finish, so a caller still has the finished
    stages when a later one fails or hits the time limit.
    """
    if build_runs < 1:
        raise ValueError(f"build_runs must be at least 1, not {build_runs}")
    from pipelines.settings import Settings

    respondents = respondents_per_wave or default_respondents_per_wave(n_requests, quarters)
    data_dir = (work_dir / f"city-{n_requests}").resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    logs = data_dir / "bench_logs"
    logs.mkdir()
    settings = Settings(data_dir=data_dir)
    env = {**os.environ, **settings.tool_environment()}
    deadline = time.time() + timeout if timeout else None

    def run(name: str, args: list[str]) -> Measured:
        remaining = deadline - time.time() if deadline else None
        if remaining is not None and remaining <= 0:
            raise BenchmarkError(f"time limit reached before {name}")
        result_path = logs / f"{name}.json"
        measured = run_measured(
            [*args, "--data-dir", str(data_dir), "--result", str(result_path)],
            env=env,
            timeout=remaining,
            log_path=logs / f"{name}.log",
            result_path=result_path,
        )
        if measured.timed_out:
            raise BenchmarkError(f"{name} hit the time limit; log: {logs / f'{name}.log'}")
        if measured.returncode != 0:
            raise BenchmarkError(f"{name} failed ({measured.returncode}); log: {logs / f'{name}.log'}")
        log(f"  {name}: {measured.seconds:.1f} s, peak {measured.peak_mib:.0f} MiB")
        return measured

    result = {} if result is None else result
    result.update(
        {
            "n_requests": n_requests,
            "quarters": quarters,
            "survey_respondents_per_wave": respondents,
            "seed": seed,
            "data_dir": str(data_dir),
            "started_at": dt.datetime.now().isoformat(),
            "load_average_before": list(os.getloadavg()),
        }
    )
    log(f"civicloop bench: {n_requests:,} requests in {data_dir}")
    generation = run(
        "generate",
        [
            "generate",
            "--requests",
            str(n_requests),
            "--quarters",
            str(quarters),
            "--respondents",
            str(respondents),
            "--seed",
            str(seed),
        ],
    )
    result["generation"] = _measured_summary(generation)
    result["inbox_mib"] = round(_folder_bytes(data_dir / "inbox") / MIB, 1)
    result["requests_written"] = generation.result.get("requests_written")

    generated = data_dir / GENERATED_SNAPSHOT
    if build_runs > 1:
        _snapshot_generated(data_dir, generated)
    builds: list[Measured] = []
    for index in range(build_runs):
        if index:
            _restore_generated(generated, data_dir)
        build_args = ["build", "--job", "build_all"]
        if profile and not index:
            build_args += ["--profile", str(logs / "build_all.prof")]
        build = run(_run_name("build_all", index), build_args)
        if not build.result.get("published"):
            raise BenchmarkError(f"the full build did not publish: {build.result}")
        builds.append(build)
    shutil.rmtree(generated, ignore_errors=True)
    result["full_build"] = median_of_runs(builds)
    stages = result["full_build"]["stages"]
    result["warehouse_mib"] = round(settings.warehouse_path.stat().st_size / MIB, 1)
    result["published_mib"] = round(settings.published_path.stat().st_size / MIB, 1)

    floor = run(
        "floor",
        ["floor", "--memory-limit", settings.duckdb_memory_limit, "--threads", str(settings.duckdb_threads)],
    )
    result["floor"] = {**_measured_summary(floor), **floor.result}

    dashboard = run("dashboard", ["dashboard", "--runs", str(dashboard_runs)])
    result["dashboard"] = dashboard.result

    first_day = dt.date.fromisoformat(generation.result["end_exclusive"])
    day_requests = max(1, round(n_requests / DAYS_OF_HISTORY))
    increments: list[Measured] = []
    day_generation_seconds: list[float] = []
    for index in range(build_runs):
        day = first_day + dt.timedelta(days=index)
        day_gen = run(
            _run_name("generate_day", index),
            [
                "generate-day",
                "--day",
                day.isoformat(),
                "--requests",
                str(day_requests),
                "--seed",
                str(seed + 1 + index),
            ],
        )
        day_generation_seconds.append(day_gen.seconds)
        increment = run(_run_name("refresh_feedback", index), ["build", "--job", "refresh_feedback"])
        if not increment.result.get("success"):
            raise BenchmarkError(f"the incremental build failed: {increment.result}")
        increments.append(increment)
    result["incremental"] = {
        "day": first_day.isoformat(),
        "n_requests": day_requests,
        "generation_seconds": round(statistics.median(day_generation_seconds), 3),
        **median_of_runs(increments),
    }

    floor_seconds = floor.seconds
    for stage in stages.values():
        stage["ratio_to_floor"] = round(stage["seconds"] / floor_seconds, 2) if floor_seconds else None
    build_seconds = result["full_build"]["seconds"]
    result["full_build"]["ratio_to_floor"] = round(build_seconds / floor_seconds, 2)
    result["end_to_end_seconds"] = round(generation.seconds + build_seconds, 3)
    result["finished_at"] = dt.datetime.now().isoformat()
    result["load_average_after"] = list(os.getloadavg())
    result["targets"] = target_report(result)
    return result


# Inside a city's folder: its generated state, hard-linked, from which each further build starts.
GENERATED_SNAPSHOT = "bench_generated"
_KEPT_ON_RESTORE = {"bench_logs", GENERATED_SNAPSHOT}


def _run_name(name: str, index: int) -> str:
    return name if index == 0 else f"{name}-{index + 1}"


def _copy_generated(source: Path, destination: Path) -> None:
    for child in source.iterdir():
        if child.name in _KEPT_ON_RESTORE:
            continue
        if child.is_dir():
            # Builds move inbox files (a rename) and never write them; the rest is small and copied.
            copy = os.link if child.name == "inbox" else shutil.copy2
            shutil.copytree(child, destination / child.name, copy_function=copy)
        else:
            shutil.copy2(child, destination / child.name)


def _snapshot_generated(data_dir: Path, snapshot: Path) -> None:
    shutil.rmtree(snapshot, ignore_errors=True)
    snapshot.mkdir()
    _copy_generated(data_dir, snapshot)


def _restore_generated(snapshot: Path, data_dir: Path) -> None:
    """Put the city back as generated (the logs and the snapshot stay)."""
    for child in data_dir.iterdir():
        if child.name in _KEPT_ON_RESTORE:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    _copy_generated(snapshot, data_dir)


def median_of_runs(runs: Sequence[Measured]) -> dict[str, Any]:
    """One or more measured builds as one: median seconds (total and per stage), largest peaks.

    Each run's total and stage seconds are kept under ``runs``: on a shared machine the spread
    says as much as the median.
    """
    summaries = [{**_measured_summary(run), "stages": split_build(run)} for run in runs]
    stage_names = list(dict.fromkeys(name for summary in summaries for name in summary["stages"]))

    def median_of(values: Iterable[float]) -> float:
        return round(statistics.median(values), 3)

    stages: dict[str, dict[str, Any]] = {}
    for name in stage_names:
        present = [summary["stages"][name] for summary in summaries if name in summary["stages"]]
        stages[name] = {
            "seconds": median_of(stage["seconds"] for stage in present),
            "peak_mib": max(stage["peak_mib"] for stage in present),
            "cpu_seconds": median_of(stage["cpu_seconds"] for stage in present),
            "steps": present[0]["steps"],
        }
    return {
        "seconds": median_of(summary["seconds"] for summary in summaries),
        "peak_mib": max(summary["peak_mib"] for summary in summaries),
        "cpu_seconds": median_of(summary["cpu_seconds"] for summary in summaries),
        "largest_process_maxrss_mib": max(summary["largest_process_maxrss_mib"] for summary in summaries),
        "run_id": runs[-1].result.get("run_id"),
        "stages": stages,
        "runs": [
            {
                "run_id": run.result.get("run_id"),
                "seconds": summary["seconds"],
                "stages": {name: stage["seconds"] for name, stage in summary["stages"].items()},
            }
            for run, summary in zip(runs, summaries, strict=True)
        ],
    }


def target_report(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets that apply to this size, with the measured value and whether it is met."""
    n = result["n_requests"]
    report: dict[str, Any] = {}
    if n >= 10_000_000:
        build, floor = result["full_build"], result["floor"]
        pages = result.get("dashboard", {}).get("pages", {})
        worst_p95 = max((page["p95_ms"] for page in pages.values()), default=None)
        checks = {
            "full_build_vs_floor": (
                build["seconds"] / floor["seconds"],
                TARGETS["full_build_vs_floor_max_10m"],
            ),
            "full_build_peak_gib": (build["peak_mib"] / 1024, TARGETS["full_build_peak_gib_max_10m"]),
            "incremental_seconds": (result["incremental"]["seconds"], TARGETS["incremental_seconds_max_10m"]),
            "dashboard_worst_page_p95_ms": (worst_p95, TARGETS["dashboard_p95_ms_max_10m"]),
            "generation_peak_gib": (
                result["generation"]["peak_mib"] / 1024,
                TARGETS["generation_peak_gib_max_10m"],
            ),
        }
    elif n >= 1_000_000:
        checks = {"end_to_end_seconds": (result["end_to_end_seconds"], TARGETS["end_to_end_seconds_max_1m"])}
    else:
        checks = {}
    for name, (value, limit) in checks.items():
        report[name] = {
            "measured": None if value is None else round(value, 2),
            "target_max": limit,
            "met": None if value is None else value <= limit,
        }
    return report


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def markdown_table(results: Sequence[dict[str, Any]], machine: dict[str, Any]) -> str:
    """A short Markdown summary of one benchmark run (one column per city size)."""
    sizes = [f"{r['n_requests']:,}" for r in results]
    lines = [
        f"Machine: {machine['cores']} cores, {machine['ram_gib']} GiB RAM, Python {machine['python']}, "
        f"duckdb {machine['duckdb']}, dagster {machine['dagster']}, dbt-core {machine['dbt-core']}; "
        f"load average at start {machine['load_average_at_start'][0]:.1f}.",
        "",
        "| stage | " + " | ".join(f"{s} requests: s / peak MiB / × floor" for s in sizes) + " |",
        "|---|" + "---|" * len(results),
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row(
        "generation",
        [f"{r['generation']['seconds']:.1f} / {r['generation']['peak_mib']:.0f} / –" for r in results],
    )
    for stage in BUILD_STAGES:
        cells = []
        for r in results:
            s = r["full_build"]["stages"].get(stage)
            cells.append(
                "–"
                if s is None
                else f"{s['seconds']:.1f} / {s['peak_mib']:.0f} / {s.get('ratio_to_floor', 0):.1f}×"
            )
        row(f"build: {stage}", cells)
    row(
        "**full build**",
        [
            f"**{r['full_build']['seconds']:.1f} / {r['full_build']['peak_mib']:.0f} / "
            f"{r['full_build']['ratio_to_floor']:.1f}×**"
            for r in results
        ],
    )
    row(
        "DuckDB floor",
        [f"{r['floor']['seconds']:.1f} / {r['floor']['peak_mib']:.0f} / 1.0×" for r in results],
    )
    row("end to end (generate + build)", [f"{r['end_to_end_seconds']:.1f} s" for r in results])
    row(
        "one-day increment (refresh_feedback)",
        [
            f"{r['incremental']['seconds']:.1f} / {r['incremental']['peak_mib']:.0f} "
            f"({r['incremental']['n_requests']:,} requests)"
            for r in results
        ],
    )
    if any(len(r[section].get("runs", [])) > 1 for r in results for section in ("full_build", "incremental")):
        for section, label in (("full_build", "full build"), ("incremental", "one-day increment")):
            row(
                f"{label}: each run (median above)",
                [
                    " / ".join(f"{run['seconds']:.1f}" for run in r[section].get("runs", [])) + " s"
                    for r in results
                ],
            )
    for kind, label in (("pages", "dashboard {} page load"), ("searches", "comment search, {}")):
        for name in results[0].get("dashboard", {}).get(kind, {}):
            row(
                f"{label.format(name)} p50 / p95 ms",
                ["{p50_ms:.0f} / {p95_ms:.0f}".format(**r["dashboard"][kind][name]) for r in results],
            )
    targets = [(r["n_requests"], name, t) for r in results for name, t in r["targets"].items()]
    if targets:
        lines += ["", "| size | target | measured | max | met |", "|---|---|---|---|---|"]
        lines += [
            f"| {n:,} | {name} | {t['measured']} | {t['target_max']} | {'yes' if t['met'] else 'no'} |"
            for n, name, t in targets
        ]
    return "\n".join(lines) + "\n"


def run_benchmark(
    sizes: Sequence[int],
    *,
    out_dir: Path = DEFAULT_OUT,
    work_dir: Path = DEFAULT_WORK_DIR,
    keep: bool = False,
    timeout_per_size: float | None = None,
    dashboard_runs: int = 20,
    quarters: int = 8,
    respondents_per_wave: int | None = None,
    profile: bool = False,
    build_runs: int = 1,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Benchmark each size in turn; writes one JSON per size and ``latest.md``; returns the JSONs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    written: list[Path] = []
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for n_requests in sizes:
        result: dict[str, Any] = {"machine": machine}
        try:
            benchmark_size(
                n_requests,
                work_dir=work_dir,
                quarters=quarters,
                respondents_per_wave=respondents_per_wave,
                dashboard_runs=dashboard_runs,
                timeout=timeout_per_size,
                profile=profile,
                build_runs=build_runs,
                log=log,
                result=result,
            )
        except BenchmarkError as exc:
            # Keep what was measured before the failure or the time limit: it is still a figure.
            result["incomplete"] = str(exc)
            errors.append(f"{n_requests:,}: {exc}")
            log(f"  stopped: {exc}")
        path = out_dir / f"{stamp}-{n_requests}.json"
        path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
        written.append(path)
        if "incomplete" not in result:
            results.append(result)
            (out_dir / "latest.md").write_text(markdown_table(results, machine), encoding="utf-8")
        if not keep and "data_dir" in result:
            shutil.rmtree(result["data_dir"], ignore_errors=True)
    if errors:
        raise BenchmarkError("; ".join(errors) + f" (partial results in {out_dir})")
    return written


if __name__ == "__main__":
    from pipelines.process_exit import collect_once_before_exit

    try:
        _worker_main(sys.argv[1:])
    finally:
        # The measured child exits as `civicloop build` does (pipelines.cli.main).
        collect_once_before_exit()
