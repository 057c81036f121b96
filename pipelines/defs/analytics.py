"""Analytics assets: the statistics dbt cannot do in SQL (survey raking, sentiment, topics)."""

import datetime as dt
import pickle
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.analytics.text import TopicModel, fit_topics, score_feedback_text
from pipelines.analytics.weighting import survey_weights as rake_survey_weights
from pipelines.resources import CivicloopSettingsResource


def _replace_table(con, table: str, frame: pl.DataFrame) -> None:
    """Atomically replace a raw table's content with ``frame`` (same columns, same order)."""
    con.register("replacement_rows", frame.to_arrow())
    try:
        con.execute("begin transaction")
        con.execute(f"delete from raw.{table}")
        con.execute(f"insert into raw.{table} by name select * from replacement_rows")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("replacement_rows")


@dg.asset(
    key=["raw", "survey_weights"],
    deps=[dg.AssetKey(["raw", "survey_respondents"]), dg.AssetKey(["raw", "population"])],
    group_name="analytics",
    kinds={"python", "duckdb"},
)
def survey_weights(warehouse: DuckDBResource) -> dg.MaterializeResult:
    """raw.survey_weights: one row per respondent x wave; raked to census age x sex and district."""
    with warehouse.get_connection() as con:
        respondents = con.sql(
            "select respondent_id, wave, district_code, age_band, sex from raw.survey_respondents"
        ).pl()
        population = con.sql("select district_code, age_band, sex, population from raw.population").pl()
        weights = rake_survey_weights(respondents, population)
        _replace_table(con, "survey_weights", weights)
    trimmed = int(weights["trimmed"].sum()) if weights.height else 0
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(weights.height),
            "waves": dg.MetadataValue.int(weights["wave"].n_unique() if weights.height else 0),
            "trimmed_weights": dg.MetadataValue.int(trimmed),
        }
    )


def _load_topic_model(path: Path) -> TopicModel | None:
    if not path.exists():
        return None
    # Only civicloop writes this file, inside the data folder it owns.
    with path.open("rb") as handle:
        model = pickle.load(handle)
    return model if isinstance(model, TopicModel) else None


def _save_topic_model(path: Path, model: TopicModel) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    with staging.open("wb") as handle:
        pickle.dump(model, handle)
    staging.replace(path)


# A request needs a score when it has none or was loaded again after it was scored. Every scoring
# run sees all requests committed before it (DuckDB lets one process write the warehouse, and a
# job's steps run in order), so only requests loaded after the newest score can be pending; that
# bound is a constant, which lets DuckDB skip the history's row groups by their loaded_at range
# instead of joining every request with every score (4 s of a day's increment at 10M requests).
_PENDING_SCORES_SQL = """
    select r.request_id, r.description
    from raw.feedback_requests as r
    left join raw.feedback_text_scores as s on s.request_id = r.request_id
    where
        r.description is not null
        and ($1 or (r.loaded_at > $2 and (s.request_id is null or r.loaded_at > s.scored_at)))
"""


def _last_scored_at(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    newest = con.execute("select max(scored_at) from raw.feedback_text_scores").fetchone()
    return newest[0] if newest and newest[0] is not None else dt.datetime.min


@dg.asset(
    key=["raw", "feedback_text_scores"],
    deps=[dg.AssetKey(["raw", "feedback_requests"])],
    group_name="analytics",
    kinds={"python", "scikitlearn", "duckdb"},
)
def feedback_text_scores(
    civicloop: CivicloopSettingsResource, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    """raw.feedback_text_scores: one row per request with a description; VADER sentiment, NMF topic.

    Incremental: only requests loaded or updated since they were last scored are scored, with the
    topic model fitted on the history (kept in <data>/models/), so a day's increment costs what
    the day costs and topic ids stay comparable across builds. Without a saved model, every
    description is scored again with a model fitted on all of them.
    """
    settings = civicloop.settings()
    model_path = settings.resolved_data_dir / "models" / "feedback_topics.pkl"
    model = _load_topic_model(model_path)
    with warehouse.get_connection() as con:
        pending = con.execute(_PENDING_SCORES_SQL, [model is None, _last_scored_at(con)]).pl()
        if model is None and pending.height:
            model = fit_topics(pending["description"])
            _save_topic_model(model_path, model)
        scores = score_feedback_text(pending, model=model, workers=settings.text_workers).with_columns(
            pl.lit(dt.datetime.now()).alias("scored_at")
        )
        con.register("new_scores", scores.to_arrow())
        try:
            con.execute("begin transaction")
            con.execute(
                "delete from raw.feedback_text_scores where request_id in (select request_id from new_scores)"
            )
            con.execute("insert into raw.feedback_text_scores by name select * from new_scores")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        finally:
            con.unregister("new_scores")
        total = con.execute("select count(*) from raw.feedback_text_scores").fetchone()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(int(total[0]) if total else 0),
            "scored_this_run": dg.MetadataValue.int(scores.height),
            "topics": dg.MetadataValue.json(list(model.labels) if model else []),
        }
    )


analytics_assets = [survey_weights, feedback_text_scores]
