"""Running a whole build from the command line or a test: dbt parse, then one Dagster job."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dbt.cli.main import dbtRunner

from pipelines.settings import Settings
from pipelines.warm_dbt import PARTIAL_PARSE_KEY_FILE, partial_parse_stamp, record_partial_parse


class DbtParseError(RuntimeError):
    """dbt could not parse the project, so no manifest exists to build from."""


# Folders dbt writes into; their contents never change what a parse produces.
_DBT_OUTPUT_FOLDERS = frozenset({"target", "logs", "dbt_packages"})
_MANIFEST_FINGERPRINT = "civicloop_manifest.sha256"
_WAREHOUSE_PATH_VARIABLE = "CIVICLOOP_WAREHOUSE_PATH"
# env_var('NAME') or env_var("NAME", default) in the project's Jinja.
_ENV_VAR_CALL = re.compile(rb"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


def dbt_manifest_fingerprint(settings: Settings) -> str:
    """What a ``dbt parse`` depends on: the project's files, the dbt version and the environment.

    The environment counts where the project reads it (``env_var('NAME')``) and where dbt does
    (``DBT_*``). Other settings, such as the city's name or the warm dbt server's socket, do not
    make a new manifest. Of the warehouse path only the file name counts: it names the database
    that every node in the manifest carries, while its folder changes nothing in the manifest. So a
    new data folder reuses the manifest; dbt's partial-parse file, which does depend on the whole
    profile, is refreshed beside the run by the warm dbt server (``partial_parse_key``).
    """
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"dbt {dbt_version}\n".encode())
    project_dir = settings.dbt_project_dir
    read_variables: set[str] = set()
    for path in _project_source_files(project_dir):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(project_dir).as_posix()}\n".encode())
        digest.update(content)
        read_variables.update(name.decode() for name in _ENV_VAR_CALL.findall(content))
    for name, value in sorted(os.environ.items()):
        if name in read_variables or name.startswith("DBT_"):
            kept = Path(value).name if name == _WAREHOUSE_PATH_VARIABLE else value
            digest.update(f"{name}={kept}\n".encode())
    return digest.hexdigest()


def _project_source_files(project_dir: Path) -> list[Path]:
    """Every file of the dbt project outside dbt's output folders, in a stable order.

    The output folders are pruned, not walked: target/ holds a folder per Dagster dbt run (tens of
    thousands of files), which made the walk alone take 0.7 s of every build.
    """
    files: list[Path] = []
    for folder, subfolders, names in os.walk(project_dir):
        if Path(folder) == project_dir:
            subfolders[:] = [name for name in subfolders if name not in _DBT_OUTPUT_FOLDERS]
        files.extend(Path(folder) / name for name in names)
    return sorted(files)


def partial_parse_key(settings: Settings, fingerprint: str | None = None) -> str:
    """What dbt's partial-parse file was written for: the manifest's fingerprint and the profile.

    dbt parses the whole project again when the profile changes (the warehouse path is in it), so
    the file is current only for the key recorded beside it (``PARTIAL_PARSE_KEY_FILE``).
    """
    return f"{fingerprint or dbt_manifest_fingerprint(settings)}\n{settings.warehouse_path}\n"


def stale_partial_parse_key(settings: Settings) -> str | None:
    """The key to parse for when dbt's partial-parse file is not current for it; else None.

    Current means written for this key and not rewritten since (the record's stamp).
    """
    target = settings.dbt_project_dir / "target"
    key = partial_parse_key(settings)
    recorded = target / PARTIAL_PARSE_KEY_FILE
    if recorded.is_file() and recorded.read_text(encoding="utf-8") == key + partial_parse_stamp(target):
        return None
    return key


def partial_parse_is_current(settings: Settings) -> bool:
    return stale_partial_parse_key(settings) is None


def prepare_dbt_manifest(settings: Settings) -> None:
    """Write dbt_project/target/manifest.json, which the Dagster definitions load at import.

    The parse is skipped when the manifest was written for the same fingerprint: it costs 3–9 s
    of every build and increment, for a file that only changes when the project does (not with
    the data folder: ``dbt_manifest_fingerprint``).
    """
    settings.export_tool_environment()
    target = settings.dbt_project_dir / "target"
    fingerprint = dbt_manifest_fingerprint(settings)
    recorded = target / _MANIFEST_FINGERPRINT
    if (target / "manifest.json").is_file() and recorded.is_file():
        if recorded.read_text(encoding="utf-8").strip() == fingerprint:
            return
    project_dir = str(settings.dbt_project_dir)
    recorded.unlink(missing_ok=True)
    result = dbtRunner().invoke(
        ["parse", "--project-dir", project_dir, "--profiles-dir", project_dir, "--quiet"]
    )
    if not result.success:
        raise DbtParseError(f"dbt parse failed: {result.exception}")
    recorded.write_text(fingerprint + "\n", encoding="utf-8")
    record_partial_parse(target, partial_parse_key(settings, fingerprint))


@dataclass
class BuildOutcome:
    """What a build did, in the terms a data engineer asks about afterwards."""

    run_id: str
    success: bool
    materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    warned_checks: list[str] = field(default_factory=list)
    # check name -> what it found, in words (GX: the failing expectations and their reasons)
    check_findings: dict[str, str] = field(default_factory=dict)
    finished_at: str = ""

    @property
    def published(self) -> bool:
        return "published/civicloop" in self.materialized

    def status_document(self) -> dict[str, object]:
        """The build status the dashboard shows next to the snapshot (``build_status.json``)."""
        return {
            "run_id": self.run_id,
            "finished_at": self.finished_at,
            "success": self.success,
            "published": self.published,
            "failed_steps": self.failed_steps,
            "failed_checks": self.failed_checks,
            "warned_checks": self.warned_checks,
            "check_findings": self.check_findings,
        }


def _findings(metadata: dict[str, object]) -> str:
    """A check's findings in words: its ``summary`` entry, else its metadata as JSON."""
    values = {key: getattr(value, "value", value) for key, value in metadata.items()}
    if values.get("summary"):
        return str(values["summary"])
    return json.dumps(values, default=str)[:2000]


def write_build_status(settings: Settings, outcome: BuildOutcome) -> Path:
    """Record the last build's outcome beside the snapshot, atomically.

    A blocked build does not replace the snapshot, so without this file the dashboard could not
    say why the numbers it shows are older than the newest data.
    """
    path = settings.build_status_path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(outcome.status_document(), indent=1), encoding="utf-8")
    staging.replace(path)
    return path


def run_build(settings: Settings, *, job_name: str = "build_all", full_refresh: bool = False) -> BuildOutcome:
    """Ingest, analyse, dbt build, check and publish, with the in-process executor.

    ``full_refresh`` rebuilds the incremental dbt models whole (``dbt build --full-refresh``).
    """
    import dagster as dg

    settings.ensure_dirs()
    prepare_dbt_manifest(settings)  # also exports the settings to the resources' environment
    from pipelines.definitions import defs  # after the manifest exists

    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        dbt_config = {"civicloop_dbt_models": {"config": {"full_refresh": full_refresh}}}
        run_config = {"ops": dbt_config}
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
    outcome = BuildOutcome(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key:
            outcome.materialized.append(event.asset_key.to_user_string())
        elif event.event_type_value == "STEP_FAILURE" and event.step_key:
            outcome.failed_steps.append(event.step_key)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if not evaluation.passed:
                blocking = evaluation.severity == dg.AssetCheckSeverity.ERROR
                (outcome.failed_checks if blocking else outcome.warned_checks).append(name)
                outcome.check_findings[name] = _findings(dict(evaluation.metadata))
    outcome.finished_at = dt.datetime.now().replace(microsecond=0).isoformat()
    write_build_status(settings, outcome)
    return outcome


def generate_dbt_docs(settings: Settings) -> Path:
    """Write the dbt docs for analysts (models, columns, lineage) from the built warehouse."""
    settings.export_tool_environment()
    project_dir = str(settings.dbt_project_dir)
    result = dbtRunner().invoke(
        ["docs", "generate", "--project-dir", project_dir, "--profiles-dir", project_dir, "--quiet"]
    )
    if not result.success:
        raise RuntimeError(f"dbt docs generate failed: {result.exception}")
    return settings.dbt_project_dir / "target" / "index.html"
