"""Analytics assets: the statistics dbt cannot do in SQL (survey raking, sentiment, topics)."""


import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.analytics.text import score_feedback_text
from pipelines.analytics.weighting import survey_weights as rake_survey_weights


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


@dg.asset(
    key=["raw", "feedback_text_scores"],
    deps=[dg.AssetKey(["raw", "feedback_requests"])],
    group_name="analytics",
    kinds={"python", "scikitlearn", "duckdb"},
)
def feedback_text_scores(warehouse: DuckDBResource) -> dg.MaterializeResult:
    """raw.feedback_text_scores: one row per request with a description; VADER sentiment, NMF topic."""
    with warehouse.get_connection() as con:
        requests = con.sql(
            "select request_id, description from raw.feedback_requests where description is not null"
        ).pl()
        scores = score_feedback_text(requests)
        _replace_table(con, "feedback_text_scores", scores)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(scores.height),
            "topics": dg.MetadataValue.int(scores["topic_id"].n_unique() if scores.height else 0),
        }
    )


analytics_assets = [survey_weights, feedback_text_scores]
