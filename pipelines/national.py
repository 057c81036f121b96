"""The national rollup: many cities' federation exports in, one read-only national snapshot out.

``civicloop national build --exports DIR --engine duckdb|spark``:

1. verifies every city's export against its manifest (sha256 of each file; a tampered export
   stops the build, naming the file) and writes the manifests as one ``cities.parquet``;
2. runs ``dbt build`` of ``dbt_national/`` on the chosen engine, in a working folder of its own
   under ``<data>/national/<engine>/`` (dbt-spark's Derby metastore, ``derby.log`` and
   ``spark-warehouse/`` land there, never in the repository; one build at a time per folder);
3. copies the national marts into a new DuckDB file and swaps it in atomically as
   ``<data>/published/civicloop_national.duckdb``, so the dashboard reads one format whichever engine built
   it. On Spark the marts are managed Parquet tables, read back from the session's warehouse.

dbt runs in a child process (its own JVM for Spark), with telemetry off.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.federation import framework_version, read_exports, version_rank
from pipelines.settings import Settings, dbt_project_vars
from pipelines.warehouse import _quoted, _string_literal, staged_snapshot

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")
NATIONAL_SCHEMA = "national"


class NationalBuildError(RuntimeError):
    """dbt could not build the national marts (the previous national snapshot stays)."""


@dataclass
class NationalResult:
    """What a national build did: engine, time per step, cities and the snapshot it published."""

    engine: str
    published_path: Path
    build_id: str
    cities: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    table_rows: dict[str, int] = field(default_factory=dict)


def national_marts(settings: Settings) -> list[str]:
    """The national marts: one per SQL file in ``dbt_national/models/marts`` (no hand-kept list)."""
    folder = settings.dbt_national_project_dir / "models" / "marts"
    return sorted(path.stem for path in folder.glob("*.sql"))


def cities_table(manifests: list[dict[str, Any]]) -> pa.Table:
    """One row per verified manifest: the input of ``stg_exports__cities``."""
    rows = [
        {
            "city_slug": m["city"]["slug"],
            "city_name": m["city"]["name"],
            "population": m["city"]["population"],
            "framework_version": m["framework_version"],
            "framework_version_rank": version_rank(m["framework_version"]),
            "method_version": m["method_version"],
            "period_start": dt.date.fromisoformat(m["period_covered"]["start"]),
            "period_end": dt.date.fromisoformat(m["period_covered"]["end"]),
            "has_request_facts": bool(m.get("request_facts")),
            "build_id": m["build"]["build_id"],
            "exported_at": m["exported_at"],
        }
        for m in manifests
    ]
    schema = pa.schema(
        [
            ("city_slug", pa.string()),
            ("city_name", pa.string()),
            ("population", pa.int64()),
            ("framework_version", pa.string()),
            ("framework_version_rank", pa.int64()),
            ("method_version", pa.string()),
            ("period_start", pa.date32()),
            ("period_end", pa.date32()),
            ("has_request_facts", pa.bool_()),
            ("build_id", pa.string()),
            ("exported_at", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def expected_versions(settings: Settings) -> dict[str, Any]:
    """What the national build accepts as comparable: this civicloop's method and framework."""
    framework = framework_version()
    return {
        "expected_method_version": str(dbt_project_vars(settings.dbt_project_dir)["method_version"]),
        "min_framework_version": framework,
        "min_framework_version_rank": version_rank(framework),
    }


def engine_work_dir(settings: Settings, engine: Engine) -> Path:
    return settings.national_dir / engine


def run_dbt(
    settings: Settings,
    engine: Engine,
    work_dir: Path,
    dbt_vars: dict[str, Any],
    *,
    args: tuple[str, ...] = ("build",),
) -> None:
    """``dbt <args>`` of dbt_national on ``engine`` in a child process with ``work_dir`` as cwd."""
    project_dir = str(settings.dbt_national_project_dir)
    env = {
        **os.environ,
        **settings.tool_environment(),
        "CIVICLOOP_NATIONAL_DUCKDB_PATH": str(work_dir / "national_build.duckdb"),
        "CIVICLOOP_NATIONAL_SPARK_WAREHOUSE": str(work_dir / "spark-warehouse"),
        "CIVICLOOP_SPARK_DRIVER_MEMORY": settings.spark_driver_memory,
    }
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        project_dir,
        "--profiles-dir",
        project_dir,
        "--target",
        engine,
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--vars",
        json.dumps(dbt_vars),
    ]
    completed = subprocess.run(command, cwd=work_dir, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-30:])
        raise NationalBuildError(f"dbt {' '.join(args)} on {engine} failed:\n{tail}")


def _mart_source(engine: Engine, work_dir: Path, mart: str) -> str:
    """SQL that reads one built national mart from the engine's output, inside the snapshot."""
    if engine == "duckdb":
        return f"select * from build.{_quoted(NATIONAL_SCHEMA)}.{_quoted(mart)}"
    folder = work_dir / "spark-warehouse" / f"{NATIONAL_SCHEMA}.db" / mart
    return f"select * from read_parquet({_string_literal(str(folder / '*.parquet'))})"


def publish_national(
    settings: Settings,
    engine: Engine,
    work_dir: Path,
    manifests: list[dict[str, Any]],
    dbt_vars: dict[str, Any],
    published_path: Path,
    build_id: str,
) -> dict[str, int]:
    """Copy the national marts into a fresh DuckDB file and swap it in as ``published_path``."""
    table_rows: dict[str, int] = {}
    with staged_snapshot(settings, published_path, build_id) as con:
        if engine == "duckdb":
            build_db = _string_literal(str(work_dir / "national_build.duckdb"))
            con.execute(f"attach {build_db} as build (read_only)")
        schema = _quoted(NATIONAL_SCHEMA)
        con.execute(f"create schema {schema}")
        for mart in national_marts(settings):
            target = f"{schema}.{_quoted(mart)}"
            con.execute(f"create table {target} as {_mart_source(engine, work_dir, mart)}")
            count = con.execute(f"select count(*) from {target}").fetchone()
            table_rows[f"{NATIONAL_SCHEMA}.{mart}"] = int(count[0]) if count else 0
        con.execute(
            f"""
            create table {schema}.build_info as
            select ?::varchar as build_id, ?::varchar as engine, ?::timestamp as published_at,
                   ?::varchar as expected_method_version, ?::varchar as min_framework_version,
                   ?::integer as n_cities, ?::varchar as manifests_json
            """,
            [
                build_id,
                engine,
                dt.datetime.now().replace(microsecond=0),
                dbt_vars["expected_method_version"],
                dbt_vars["min_framework_version"],
                len(manifests),
                json.dumps(manifests),
            ],
        )
        if engine == "duckdb":
            con.execute("detach build")
    return table_rows


def build_national(
    settings: Settings,
    exports_dir: Path,
    *,
    engine: Engine = "duckdb",
    published_path: Path | None = None,
    work_dir: Path | None = None,
) -> NationalResult:
    """Verify the exports, build the national marts on ``engine`` and publish the snapshot."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine == "spark" and shutil.which("java") is None:
        raise NationalBuildError(
            "the Spark engine needs a Java runtime (java on PATH); install openjdk-17-jre-headless"
        )
    build_id = uuid.uuid4().hex[:12]
    published_path = published_path or settings.national_published_path
    work_dir = (work_dir or engine_work_dir(settings, engine)).resolve()
    exports_dir = exports_dir.expanduser().resolve()
    for folder in (exports_dir, work_dir):
        if any(ch in str(folder) for ch in "'`\\"):
            # The folders are written into the models' SQL as literals (read_parquet, parquet.`...`).
            raise NationalBuildError(f"{folder} has a quote or backslash in its path: use another folder")
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    manifests = read_exports(exports_dir)
    seconds["verify"] = time.perf_counter() - started

    # A national build is a full rebuild from the exports: start from an empty working folder
    # (Derby metastore and Spark warehouse included) so that no city of an earlier run lingers.
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    cities_path = work_dir / "cities.parquet"
    pq.write_table(cities_table(manifests), cities_path)
    dbt_vars = {
        "exports_dir": str(exports_dir),
        "cities_path": str(cities_path),
        "has_request_facts": any(m.get("request_facts") for m in manifests),
        **expected_versions(settings),
    }
    started = time.perf_counter()
    run_dbt(settings, engine, work_dir, dbt_vars)
    seconds["dbt_build"] = time.perf_counter() - started

    started = time.perf_counter()
    table_rows = publish_national(settings, engine, work_dir, manifests, dbt_vars, published_path, build_id)
    seconds["publish"] = time.perf_counter() - started
    return NationalResult(
        engine=engine,
        published_path=published_path,
        build_id=build_id,
        cities=[m["city"]["slug"] for m in manifests],
        seconds=seconds,
        table_rows=table_rows,
    )


def snapshot_tables(path: Path, marts: list[str]) -> dict[str, pd.DataFrame]:
    """The national marts of a published national snapshot, each sorted by all its columns."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {mart: con.sql(f"select * from {NATIONAL_SCHEMA}.{_quoted(mart)}").df() for mart in marts}
    return {mart: frame.sort_values(list(frame.columns), ignore_index=True) for mart, frame in tables.items()}


def column_types(path: Path) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of every national mart in a published national snapshot."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name <> 'build_info' order by table_name, ordinal_position",
            [NATIONAL_SCHEMA],
        ).fetchall()
    types: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        types.setdefault(str(table), []).append((str(column), str(data_type)))
    return types


def compare_snapshots(left: Path, right: Path, marts: list[str], *, rel: float = 1e-9) -> list[str]:
    """How two national snapshots differ, in words (an empty list: identical within ``rel``).

    Same marts, columns, types and rows; doubles equal within ``rel`` (relative, or absolute near
    zero: the engines may sum in another order), everything else exactly.
    """
    differences: list[str] = []
    if column_types(left) != column_types(right):
        differences.append("column names or types differ")
    ours, theirs = snapshot_tables(left, marts), snapshot_tables(right, marts)
    for mart in marts:
        a, b = ours[mart], theirs[mart]
        if len(a) != len(b) or list(a.columns) != list(b.columns):
            differences.append(f"{mart}: {len(a)} vs {len(b)} rows")
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if pd.api.types.is_float_dtype(x):
                both_null = x.isna() & y.isna()
                close = (x - y).abs() <= rel * np.maximum(1.0, np.maximum(x.abs(), y.abs()))
                if not (both_null | close).all():
                    worst = float((x - y).abs().max())
                    differences.append(f"{mart}.{column}: max difference {worst:.3g}")
            elif x.astype(str).tolist() != y.astype(str).tolist():
                differences.append(f"{mart}.{column}: values differ")
    return differences
