"""The national rollup benchmark behind ``civicloop bench-national`` (issue 9).

Building twenty real cities of a million requests through the whole pipeline would take about 50
minutes here, and what the national build reads is only their exports. So the benchmark:

1. generates and builds **one real city** of ``requests_per_city`` requests (reused on a rerun when
   its size matches), with the same child-process tasks as ``civicloop bench``;
2. **derives** ``cities`` exports from it: for each city a copy of the base city's published
   snapshot whose consideration scores, composite, population and resolution hours are scaled by
   deterministic per-city factors (so the cities differ), exported by the real ``export_city`` with
   request facts; the last city is stamped with the older scoring method 1.1, so one city is flagged
   as not comparable, as in a real rollup. Every city thus has ``requests_per_city`` request facts;
3. times the national build (verify, ``dbt build``, publish) on each engine in a fresh child
   process, sampling the RSS of the whole process tree (dbt and Spark's JVM included);
4. checks that both engines published identical national marts (``compare_snapshots``).

Results go to ``<out>/national-<timestamp>.json`` and a Markdown table to ``<out>/national.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from pipelines.bench import (
    DEFAULT_OUT,
    BenchmarkError,
    Measured,
    _measured_summary,
    default_respondents_per_wave,
    machine_info,
    run_measured,
)
from pipelines.federation import export_city
from pipelines.national import ENGINES, Engine, build_national, compare_snapshots, national_marts
from pipelines.settings import Settings

DEFAULT_WORK_DIR = Path("/tmp/civicloop-bench-national")
OLDER_METHOD = "1.1"


def _city_factor(index: int, salt: int) -> float:
    """A deterministic factor in [0.80, 1.20] for city ``index``."""
    return 0.80 + 0.04 * ((index * 7 + salt * 13) % 11)


def derive_city(base_snapshot: Path, cities_dir: Path, exports_dir: Path, index: int, older: bool) -> None:
    """Copy the base city's snapshot as city ``index``, perturb it, export it, drop the copy."""
    name = f"City {index + 1:02d}"
    settings = Settings(data_dir=cities_dir / f"city-{index + 1:02d}", city_name=name)
    settings.published_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_snapshot, settings.published_path)
    status = (
        "case when status = 'suppressed' then status when score >= 1.0 then 'green' "
        "when score >= 0.9 then 'amber' else 'red' end"
    )
    with duckdb.connect(str(settings.published_path)) as con:
        con.execute(
            "update marts.consideration_scores set score = least(1.2, score * (0.80 + 0.04 * "
            "((? * 7 + consideration * 13) % 11)))",
            [index],
        )
        con.execute(f"update marts.consideration_scores set status = {status}")
        con.execute(
            "update marts.composite_scores set score = least(1.2, score * ?)", [_city_factor(index, 1)]
        )
        con.execute(f"update marts.composite_scores set status = {status}")
        con.execute(
            "update marts.districts set population = cast(population * ? as bigint)", [_city_factor(index, 2)]
        )
        # The funnel too (each stage a share of the one before), so that normalised shares differ.
        con.execute(
            "update marts.feedback_funnel set responded = cast(responded * ? as bigint), "
            "resolved = cast(resolved * ? as bigint), confirmed_fixed = cast(confirmed_fixed * ? as bigint)",
            [0.85 + 0.01 * ((index * 3) % 15), 0.90 + 0.01 * ((index * 5) % 10), 0.70 + 0.03 * (index % 10)],
        )
        con.execute(
            "update marts.request_facts set resolution_hours = resolution_hours * ?", [_city_factor(index, 3)]
        )
        if older:
            con.execute("update ops.build_info set method_version = ?", [OLDER_METHOD])
    export_city(settings, exports_dir, request_facts=True)
    shutil.rmtree(settings.resolved_data_dir)


def _task_derive(base: Path, work_dir: Path, cities: int, result_path: Path) -> None:
    exports = work_dir / "exports"
    shutil.rmtree(exports, ignore_errors=True)
    base_snapshot = Settings(data_dir=base).published_path
    for index in range(cities):
        derive_city(base_snapshot, work_dir / "cities", exports, index, older=index == cities - 1)
    total = sum(path.stat().st_size for path in exports.rglob("*") if path.is_file())
    result_path.write_text(json.dumps({"export_bytes": total}))


def _task_national(work_dir: Path, engine: Engine, result_path: Path) -> None:
    settings = Settings(data_dir=work_dir / "national")
    result = build_national(
        settings,
        work_dir / "exports",
        engine=engine,
        published_path=work_dir / f"national_{engine}.duckdb",
    )
    result_path.write_text(
        json.dumps({"steps": result.seconds, "table_rows": result.table_rows, "cities": len(result.cities)})
    )


def _worker_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench_national")
    parser.add_argument("task", choices=["derive", "national"])
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--base", type=Path)
    parser.add_argument("--cities", type=int, default=20)
    parser.add_argument("--engine", choices=ENGINES, default="duckdb")
    args = parser.parse_args(argv)
    if args.task == "derive":
        _task_derive(args.base, args.work_dir, args.cities, args.result)
    else:
        _task_national(args.work_dir, args.engine, args.result)


def _checked(measured: Measured, what: str, log_path: Path) -> Measured:
    if measured.returncode != 0:
        raise BenchmarkError(f"{what} failed (exit {measured.returncode}); see {log_path}")
    return measured


def _base_city_ready(base: Path, requests: int) -> bool:
    truth = base / "truth.json"
    if not (truth.exists() and Settings(data_dir=base).published_path.exists()):
        return False
    return json.loads(truth.read_text(encoding="utf-8")).get("n_requests") == requests


def run_national_benchmark(
    *,
    cities: int = 20,
    requests_per_city: int = 1_000_000,
    out_dir: Path = DEFAULT_OUT,
    work_dir: Path = DEFAULT_WORK_DIR,
    engines: Sequence[Engine] = ENGINES,
    quarters: int = 8,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the benchmark; returns the result dict (also written as JSON and Markdown)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "bench.log"
    base = work_dir / "base"
    result: dict[str, Any] = {
        "kind": "national",
        "cities": cities,
        "requests_per_city": requests_per_city,
        "quarters": quarters,
        "machine": machine_info(),
        "started_at": dt.datetime.now().replace(microsecond=0).isoformat(),
        "method": "one real city built, the others derived from it (pipelines/bench_national.py)",
    }
    if not _base_city_ready(base, requests_per_city):
        shutil.rmtree(base, ignore_errors=True)
        log(f"base city: generating and building {requests_per_city:,} requests")
        respondents = default_respondents_per_wave(requests_per_city, quarters)
        generate_args = ["generate", "--data-dir", str(base), "--result", str(work_dir / "generate.json")]
        generate_args += ["--requests", str(requests_per_city), "--quarters", str(quarters)]
        generate_args += ["--respondents", str(respondents)]
        generated = _checked(run_measured(generate_args, log_path=log_path), "generate", log_path)
        build_args = ["build", "--data-dir", str(base), "--result", str(work_dir / "build.json")]
        # Every derived city exports its request facts, so the base city must publish them.
        facts_env = {**os.environ, "CIVICLOOP_EXPORT_REQUEST_FACTS": "true"}
        built = _checked(run_measured(build_args, env=facts_env, log_path=log_path), "base build", log_path)
        result["base_city"] = {"generate": _measured_summary(generated), "build": _measured_summary(built)}
    log(f"deriving {cities} city exports")
    derive_args = ["derive", "--base", str(base), "--work-dir", str(work_dir), "--cities", str(cities)]
    derive_args += ["--result", str(work_dir / "derive.json")]
    derived = _checked(
        run_measured(
            derive_args,
            log_path=log_path,
            result_path=work_dir / "derive.json",
            module="pipelines.bench_national",
        ),
        "derive",
        log_path,
    )
    result["derive"] = {**_measured_summary(derived), **derived.result}
    result["engines"] = {}
    for engine in engines:
        log(f"national build on {engine}")
        args = ["national", "--work-dir", str(work_dir), "--engine", engine]
        args += ["--result", str(work_dir / f"national_{engine}.json")]
        measured = _checked(
            run_measured(
                args,
                log_path=log_path,
                result_path=work_dir / f"national_{engine}.json",
                module="pipelines.bench_national",
            ),
            f"national build on {engine}",
            log_path,
        )
        result["engines"][engine] = {**_measured_summary(measured), **measured.result}
    if len(engines) == 2:
        differences = compare_snapshots(
            work_dir / f"national_{engines[0]}.duckdb",
            work_dir / f"national_{engines[1]}.duckdb",
            national_marts(Settings()),
        )
        result["identical_results"] = not differences
        result["differences"] = differences
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out_dir / f"national-{stamp}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out_dir / "national.md").write_text(markdown_table(result), encoding="utf-8")
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The result as the Markdown table of bench/README.md."""
    machine = result["machine"]
    lines = [
        f"National build, {result['cities']} cities x {result['requests_per_city']:,} requests "
        f"({result['cities'] * result['requests_per_city']:,} request facts, "
        f"{result['derive'].get('export_bytes', 0) / 2**20:,.0f} MiB of Parquet); "
        f"{machine.get('cores', '?')} cores, {machine.get('ram_gib', '?')} GiB, {result['started_at']}.",
        "",
        "| engine | wall s | verify s | dbt build s | publish s | peak MiB (whole tree) |",
        "|---|---|---|---|---|---|",
    ]
    for engine, figures in result["engines"].items():
        steps = figures.get("steps", {})
        lines.append(
            f"| {engine} | {figures['seconds']:.1f} "
            f"| {steps.get('verify', 0):.1f} | {steps.get('dbt_build', 0):.1f} "
            f"| {steps.get('publish', 0):.1f} "
            f"| {figures['peak_mib']:,.0f} |"
        )
    if "identical_results" in result:
        lines += [
            "",
            f"Identical national marts on both engines: {'yes' if result['identical_results'] else 'NO'}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    _worker_main(sys.argv[1:])
