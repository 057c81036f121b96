"""Jobs, schedules and the inbox sensor.

Each source arrives at its own cadence (feedback daily, KPIs monthly, the survey quarterly); a
scheduled run ingests that source and rebuilds only what lies downstream of it. The sensor starts
the same runs as soon as a data engineer drops files into an inbox folder.
"""

import hashlib

import dagster as dg

from pipelines.defs.ingest import INGEST_SOURCES, raw_key
from pipelines.resources import CivicloopSettingsResource
from pipelines.settings import SOURCES

SOURCE_TABLES: dict[str, list[dg.AssetKey]] = {
    **{source: [raw_key(table.name) for table in tables] for source, tables in INGEST_SOURCES.items()},
    "reviews": [raw_key("review_decisions")],
}


def _downstream_of(source: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*SOURCE_TABLES[source]).downstream()


build_all = dg.define_asset_job(
    "build_all",
    selection=dg.AssetSelection.all(),
    description="Ingest every inbox, compute analytics, dbt build, quality gates, publish.",
)

source_jobs = {
    source: dg.define_asset_job(
        f"refresh_{source}",
        selection=_downstream_of(source),
        description=f"Ingest inbox/{source} and rebuild what depends on it, then publish.",
    )
    for source in ("feedback", "kpis", "survey", "reviews")
}

schedules = [
    dg.ScheduleDefinition(name="daily_feedback", job=source_jobs["feedback"], cron_schedule="0 6 * * *"),
    dg.ScheduleDefinition(name="monthly_kpis", job=source_jobs["kpis"], cron_schedule="0 7 2 * *"),
    dg.ScheduleDefinition(
        name="quarterly_survey", job=source_jobs["survey"], cron_schedule="0 7 5 1,4,7,10 *"
    ),
    # The register changes during a review meeting; pick decisions up every evening.
    dg.ScheduleDefinition(
        name="nightly_review_register", job=source_jobs["reviews"], cron_schedule="0 20 * * *"
    ),
]


def inbox_fingerprint(files: list[tuple[str, int, float]]) -> str:
    """A run key that changes whenever a file is added, replaced or touched in an inbox."""
    digest = hashlib.sha256()
    for name, size, mtime in sorted(files):
        digest.update(f"{name}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:24]


@dg.sensor(job=build_all, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def inbox_sensor(context: dg.SensorEvaluationContext, civicloop: CivicloopSettingsResource):
    """Start a build of the affected sources when files land in ``<data>/inbox/<source>/``."""
    settings = civicloop.settings()
    waiting: dict[str, list[tuple[str, int, float]]] = {}
    for source in SOURCES:
        folder = settings.inbox_dir(source)
        if not folder.is_dir():
            continue
        files = [
            (str(path), path.stat().st_size, path.stat().st_mtime)
            for path in folder.iterdir()
            if path.is_file() and not path.name.startswith(".")
        ]
        if files:
            waiting[source] = files
    if not waiting:
        return dg.SkipReason("every inbox is empty")
    selection: dg.AssetSelection = dg.AssetSelection.assets()
    for source in waiting:
        selection = selection | _downstream_of(source)
    all_files = [entry for files in waiting.values() for entry in files]
    return dg.RunRequest(
        run_key=inbox_fingerprint(all_files),
        asset_selection=list(selection.resolve(context.repository_def.asset_graph))
        if context.repository_def
        else None,
        tags={"civicloop/sources": ",".join(sorted(waiting))},
    )


jobs = [build_all, *source_jobs.values()]
sensors = [inbox_sensor]
