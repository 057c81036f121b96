"""The ``civicloop`` command line: generate a city, build, serve the dashboard, check profiles."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.process_exit import collect_once_before_exit
from pipelines.settings import PROJECT_ROOT, MissingSecretError, Settings, get_settings

app = typer.Typer(help="civicloop: the city's feedback-loop warehouse.", no_args_is_help=True)
profile_app = typer.Typer(help="Check a city's export against a mapping profile before loading.")
editors_app = typer.Typer(help="Manage who may record decisions in the quarterly review.")
decisions_app = typer.Typer(help="Look after the decision register (append-only, backed up).")
app.add_typer(profile_app, name="profile")
app.add_typer(editors_app, name="editors")
national_app = typer.Typer(help="The national rollup over many cities' exports (DuckDB or Spark).")
app.add_typer(decisions_app, name="decisions")
app.add_typer(national_app, name="national")
console = Console()

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default: $CIVICLOOP_DATA_DIR or ./data)."),
]


def _settings(data_dir: Path | None) -> Settings:
    # Exported so that the child tools (dbt, Dagster, Streamlit) resolve the same folder.
    if data_dir is not None:
        os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir.resolve())
    settings = get_settings()
    if settings.mode == "production":
        # Fail before any work rather than halfway through an ingest.
        try:
            settings.pseudonym_key_bytes()
        except MissingSecretError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(code=2) from error
    settings.export_tool_environment()
    return settings


@app.command()
def generate(
    data_dir: DataDirOption = None,
    requests: Annotated[int, typer.Option(help="Service requests to generate.")] = 300_000,
    quarters: Annotated[int, typer.Option(help="Quarters of history.")] = 8,
    respondents: Annotated[int, typer.Option(help="Survey respondents per wave.")] = 1_500,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same city.")] = 20261128,
) -> None:
    """Write a synthetic city with planted truths into <data>/inbox and <data>/truth.json."""
    from pipelines.generate import generate_city

    settings = _settings(data_dir)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=step, completed=fraction)

        truth = generate_city(
            settings.resolved_data_dir,
            n_requests=requests,
            quarters=quarters,
            survey_respondents_per_wave=respondents,
            seed=seed,
            progress=report,
        )
    console.print(
        f"Sample city written to {settings.resolved_data_dir / 'inbox'} "
        f"(slow district {truth.get('slow_district', {}).get('district_code', '?')}, "
        f"under-reporting district {truth.get('under_reporting_district', {}).get('district_code', '?')})."
    )


@app.command()
def build(
    data_dir: DataDirOption = None,
    docs: Annotated[bool, typer.Option(help="Also write the dbt docs after publishing.")] = True,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild the incremental dbt models whole, not only changed months.")
    ] = False,
) -> None:
    """Ingest the inbox, compute indicators, run the quality gates and publish the snapshot."""
    from pipelines.build import generate_dbt_docs, run_build

    settings = _settings(data_dir)
    started = time.perf_counter()
    with console.status("Building: ingest -> analytics -> dbt build -> checks -> publish"):
        outcome = run_build(settings, full_refresh=full_refresh)
    elapsed = time.perf_counter() - started
    console.print(f"Materialized {len(outcome.materialized)} assets in {elapsed:.0f} s.")
    for name in outcome.warned_checks:
        console.print(f"[yellow]warning[/yellow] check {name}")
    for name in outcome.failed_checks:
        console.print(f"[red]blocking check failed[/red] {name}")
    for step in outcome.failed_steps:
        console.print(f"[red]step failed[/red] {step}")
    if not outcome.published:
        console.print(
            "[red]Not published[/red]: the previous snapshot (if any) is still served. "
            f"See the Data health page or the Dagster run {outcome.run_id}."
        )
        raise typer.Exit(code=1)
    console.print(f"[green]Published[/green] {settings.published_path}")
    if docs:
        with console.status("Writing dbt docs for analysts"):
            index = generate_dbt_docs(settings)
        console.print(f"dbt docs: {index}")


def _streamlit_command(settings: Settings, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


@app.command()
def serve(
    data_dir: DataDirOption = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501,
) -> None:
    """Serve the dashboard on http://127.0.0.1:PORT until Ctrl-C."""
    settings = _settings(data_dir)
    if not settings.published_path.exists():
        console.print("[red]No published snapshot yet.[/red] Run `civicloop build` first.")
        raise typer.Exit(code=1)
    console.print(f"Dashboard on http://127.0.0.1:{port} (Ctrl-C to stop)")
    process = subprocess.Popen(_streamlit_command(settings, port), start_new_session=True)
    try:
        process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


@app.command()
def demo(
    data_dir: DataDirOption = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501,
    requests: Annotated[int, typer.Option(help="Service requests in the sample city.")] = 300_000,
) -> None:
    """Generate the sample city (once), build it and serve the dashboard."""
    settings = _settings(data_dir)
    if not settings.truth_path.exists():
        generate(data_dir=data_dir, requests=requests)
    build(data_dir=data_dir)
    serve(data_dir=data_dir, port=port)


@app.command()
def docs(
    data_dir: DataDirOption = None,
    port: Annotated[int, typer.Option(help="Serve on 127.0.0.1:PORT; 0 only writes the files.")] = 0,
) -> None:
    """Write (and optionally serve) the dbt docs: every model and column, with lineage."""
    from pipelines.build import generate_dbt_docs

    settings = _settings(data_dir)
    index = generate_dbt_docs(settings)
    console.print(f"dbt docs written to {index}")
    if port:
        project_dir = str(settings.dbt_project_dir)
        subprocess.run(
            [
                str(Path(sys.executable).with_name("dbt")),
                "docs",
                "serve",
                "--project-dir",
                project_dir,
                "--profiles-dir",
                project_dir,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-browser",
            ],
            check=False,
        )


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder that receives city=<slug>/.")],
    data_dir: DataDirOption = None,
    request_facts: Annotated[
        bool | None,
        typer.Option(
            "--request-facts/--no-request-facts",
            help="Include request-level facts (default: $CIVICLOOP_EXPORT_REQUEST_FACTS, off).",
        ),
    ] = None,
) -> None:
    """Export the published snapshot as Parquet with a manifest, for the national rollup."""
    from pipelines.federation import ExportError, export_city

    settings = _settings(data_dir)
    try:
        result = export_city(settings, out, request_facts=request_facts)
    except ExportError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    manifest = result.manifest
    console.print(
        f"Exported {manifest['city']['name']} (method {manifest['method_version']}, "
        f"{manifest['period_covered']['start']} to {manifest['period_covered']['end']}, "
        f"{len(manifest['tables'])} tables, request facts {'in' if manifest['request_facts'] else 'not'} "
        f"included) to {result.city_dir}"
    )


@national_app.command("build")
def national_build(
    exports: Annotated[Path, typer.Option("--exports", help="Folder of city=<slug>/ exports.")],
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark (dbt-spark, local session).")] = (
        "duckdb"
    ),
    data_dir: DataDirOption = None,
) -> None:
    """Verify every city's export, build the national marts and publish the national snapshot."""
    from pipelines.federation import ExportError, ExportIntegrityError
    from pipelines.national import ENGINES, NationalBuildError, build_national

    if engine not in ENGINES:
        console.print(f"[red]--engine must be one of {', '.join(ENGINES)}[/red]")
        raise typer.Exit(code=2)
    settings = _settings(data_dir)
    try:
        with console.status(f"National build on {engine}"):
            result = build_national(settings, exports, engine=engine)  # type: ignore[arg-type]
    except (ExportError, ExportIntegrityError, NationalBuildError) as error:
        console.print(f"[red]National build stopped[/red]: {error}")
        raise typer.Exit(code=1) from error
    timing = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.seconds.items())
    console.print(f"{len(result.cities)} cities on {engine}: {timing}")
    console.print(f"[green]Published[/green] {result.published_path}")


@profile_app.command("check")
def profile_check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The export to check.")],
    profile: Annotated[str, typer.Option("--profile", help="Profile name or YAML path.")],
    data_dir: DataDirOption = None,
) -> None:
    """Report how well FILE maps through PROFILE (columns, dates, districts) without loading it.

    Districts are checked against the reference districts and aliases of the working warehouse
    when one exists and no build holds its lock.
    """
    import duckdb

    from pipelines.ingest import profile_check as check

    settings = _settings(data_dir)
    con = None
    if settings.warehouse_path.exists():
        try:
            con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        except duckdb.IOException:
            console.print("The warehouse is locked by a running build: districts are not checked.")
    try:
        console.print(check(file, profile, con=con).to_text(), markup=False, highlight=False)
    finally:
        if con is not None:
            con.close()


@editors_app.command("add")
def add_editor(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    data_dir: DataDirOption = None,
    role: Annotated[str, typer.Option(help="editor or admin.")] = "editor",
) -> None:
    """Add or reset an editor; the password is asked for and stored only as a bcrypt hash."""
    from dashboards.auth import add_editor as store_editor

    settings = _settings(data_dir)
    password = getpass.getpass(f"Password for {username}: ")
    try:
        store_editor(settings.resolved_editors_file, username, password, role, replace=True)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    console.print(f"Editor {username} saved in {settings.resolved_editors_file}")


@app.command()
def bench(
    requests: Annotated[
        list[int] | None,
        typer.Option("--requests", help="City size in service requests; repeat for several sizes."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where the JSON results and latest.md go.")] = (
        PROJECT_ROOT / "bench" / "results"
    ),
    work_dir: Annotated[
        Path, typer.Option(help="Scratch folder for the generated cities (not ./data).")
    ] = Path("/tmp/civicloop-bench"),
    keep: Annotated[bool, typer.Option(help="Keep each generated city after measuring it.")] = False,
    time_limit: Annotated[
        float | None, typer.Option(help="Seconds allowed per city size; stops that size when hit.")
    ] = None,
    dashboard_runs: Annotated[int, typer.Option(help="Runs of each dashboard page's queries.")] = 20,
    profile: Annotated[
        bool, typer.Option(help="Also write a cProfile of the full build (adds overhead).")
    ] = False,
    build_runs: Annotated[
        int,
        typer.Option(min=1, help="Full builds and increments per size; their medians are reported."),
    ] = 1,
) -> None:
    """Benchmark generation, each build stage, the daily increment and the dashboard queries."""
    from pipelines.bench import BenchmarkError, run_benchmark

    try:
        written = run_benchmark(
            requests or [1_000_000],
            out_dir=out,
            work_dir=work_dir,
            keep=keep,
            timeout_per_size=time_limit,
            dashboard_runs=dashboard_runs,
            profile=profile,
            build_runs=build_runs,
            log=console.print,
        )
    except BenchmarkError as exc:
        console.print(f"[red]benchmark stopped[/red]: {exc}")
        raise typer.Exit(code=1) from exc
    for path in written:
        console.print(f"results: {path}")
    console.print((out / "latest.md").read_text(encoding="utf-8"), markup=False, highlight=False)


@app.command("bench-national")
def bench_national(
    cities: Annotated[int, typer.Option(help="Cities in the rollup.")] = 20,
    requests_per_city: Annotated[int, typer.Option(help="Service requests per city.")] = 1_000_000,
    engine: Annotated[
        list[str] | None, typer.Option("--engine", help="duckdb and/or spark (default: both).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where the JSON results and national.md go.")] = (
        PROJECT_ROOT / "bench" / "results"
    ),
    work_dir: Annotated[Path, typer.Option(help="Scratch folder (the base city is reused).")] = Path(
        "/tmp/civicloop-bench-national"
    ),
) -> None:
    """Benchmark the national build on DuckDB and Spark over derived city exports."""
    from pipelines.bench import BenchmarkError
    from pipelines.bench_national import run_national_benchmark
    from pipelines.national import ENGINES

    engines = engine or list(ENGINES)
    if any(name not in ENGINES for name in engines):
        console.print(f"[red]--engine must be one of {', '.join(ENGINES)}[/red]")
        raise typer.Exit(code=2)
    try:
        result = run_national_benchmark(
            cities=cities,
            requests_per_city=requests_per_city,
            out_dir=out,
            work_dir=work_dir,
            engines=engines,  # type: ignore[arg-type]
            log=console.print,
        )
    except BenchmarkError as exc:
        console.print(f"[red]benchmark stopped[/red]: {exc}")
        raise typer.Exit(code=1) from exc
    console.print((out / "national.md").read_text(encoding="utf-8"), markup=False, highlight=False)
    if result.get("differences"):
        raise typer.Exit(code=1)


@decisions_app.command("restore")
def restore_decisions(data_dir: DataDirOption = None) -> None:
    """Restore the decision register from its newest intact backup (stop the dashboard first)."""
    from dashboards.decisions import restore_register

    settings = _settings(data_dir)
    register = settings.decisions_path
    outcome = restore_register(register, register.parent / "backups")
    console.print(
        f"Restored {register} from {outcome['from']}; {outcome['merged_entries']} entries added back "
        f"from older backups; {outcome['skipped_damaged']} damaged backups skipped."
    )


def main() -> None:
    """The `civicloop` command (pyproject.toml's entry point)."""
    try:
        app()
    finally:
        collect_once_before_exit()


if __name__ == "__main__":
    main()
