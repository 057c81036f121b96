"""Every query the dashboard runs, against the published snapshot, with bound parameters.

The snapshot is opened ``read_only=True`` with a fresh, short-lived connection per query: the
build replaces the file atomically (``os.replace``), so a long-lived handle would keep reading the
old inode. Results are cached with ``st.cache_data`` keyed on the file's path, mtime, inode and
size, so a new snapshot is picked up on the next rerun and the TTL bounds memory.

Pages call the functions below and never see SQL. All functions return pandas DataFrames (or
plain Python values) with the contract's column names.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from dashboards import config

CACHE_TTL_SECONDS = 600
COMMENT_LIMIT_MAX = 500


class SnapshotMissingError(RuntimeError):
    """The published snapshot file does not exist (the build has not published yet)."""


def snapshot_path() -> Path:
    return config.published_path()


class NationalSnapshotMissingError(SnapshotMissingError):
    """No national rollup has been published (``civicloop national build`` has not run)."""


NATIONAL_BUILD_COMMAND = "civicloop national build --exports DIR"


def _file_version(path: Path, missing: type[SnapshotMissingError], hint: str) -> tuple[str, int, int, int]:
    """(path, mtime_ns, inode, size): changes whenever a build publishes a new file."""
    try:
        st_ = path.stat()
    except FileNotFoundError as exc:
        raise missing(f"No published snapshot at {path}. {hint}") from exc
    return (str(path), st_.st_mtime_ns, st_.st_ino, st_.st_size)


def snapshot_version() -> tuple[str, int, int, int]:
    """The city snapshot's version: changes whenever the build publishes a new snapshot."""
    return _file_version(
        snapshot_path(), SnapshotMissingError, "Run the build (civicloop build) to publish one."
    )


def national_snapshot_version() -> tuple[str, int, int, int]:
    """The national rollup snapshot's version (``published/civicloop_national.duckdb``)."""
    return _file_version(
        config.national_published_path(),
        NationalSnapshotMissingError,
        f"Collect the cities' exports (civicloop export --out DIR) and run `{NATIONAL_BUILD_COMMAND}`.",
    )


def snapshot_loaded_at() -> dt.datetime:
    return dt.datetime.fromtimestamp(snapshot_version()[1] / 1e9)


class _SnapshotSwappedError(RuntimeError):
    """The build replaced the snapshot between reading its version and opening it."""


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=512)
def _run(version: tuple[str, int, int, int], sql: str, params: tuple) -> pd.DataFrame:
    con = duckdb.connect(version[0], read_only=True)
    try:
        # The file may have been swapped between stat() and connect(): then this connection reads
        # the newer file, and its result must not be cached under the older version's key.
        if Path(version[0]).stat().st_ino != version[2]:
            raise _SnapshotSwappedError(version[0])
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _query(
    sql: str, *params: object, version: Callable[[], tuple[str, int, int, int]] = snapshot_version
) -> pd.DataFrame:
    for _attempt in range(3):
        try:
            return _run(version(), sql, tuple(params))
        except _SnapshotSwappedError:
            continue
    return _run(version(), sql, tuple(params))


def _national(sql: str, *params: object) -> pd.DataFrame:
    """A query against the national rollup snapshot."""
    return _query(sql, *params, version=national_snapshot_version)


def table_exists(schema: str, table: str) -> bool:
    df = _query(
        "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
        schema,
        table,
    )
    return bool(df["n"].iloc[0])


def _columns(schema: str, table: str) -> set[str]:
    df = _query(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        schema,
        table,
    )
    return set(df["column_name"])


# --- periods and labels -------------------------------------------------------------------


def quarters() -> list[dt.date]:
    """Quarter starts with consideration scores, oldest first."""
    df = _query(
        "select distinct period_start from marts.consideration_scores "
        "where grain = 'quarter' order by period_start"
    )
    return [pd.Timestamp(v).date() for v in df["period_start"]]


# Short names of the six considerations (README), used when the catalogue publishes none.
CONSIDERATION_SHORT_NAMES = {
    1: "Challenge and root causes",
    2: "Bias and equity",
    3: "Dedicated capacity",
    4: "Stakeholder buy-in",
    5: "Closing the loop",
    6: "Robust, flexible strategy",
}


def consideration_names() -> dict[int, str]:
    """Consideration number -> display name (``consideration_name`` when published)."""
    if "consideration_name" in _columns("marts", "indicator_catalog"):
        df = _query(
            "select consideration, min(consideration_name) as name "
            "from marts.indicator_catalog group by consideration order by consideration"
        )
        names = {int(r.consideration): str(r.name) for r in df.itertuples()}
    else:
        df = _query("select distinct consideration from marts.indicator_catalog order by consideration")
        names = {int(c): CONSIDERATION_SHORT_NAMES.get(int(c), "") for c in df["consideration"]}
    return {c: (f"{c}. {n}" if n else f"Consideration {c}") for c, n in names.items()}


# --- scores -------------------------------------------------------------------------------


def consideration_scores() -> pd.DataFrame:
    return _query(
        "select consideration, period_start, score, status from marts.consideration_scores "
        "where grain = 'quarter' order by consideration, period_start"
    )


def composite_scores() -> pd.DataFrame:
    """Quarterly composite with ``n_considerations`` (how many of the six took part)."""
    n_cons = (
        "n_considerations"
        if "n_considerations" in _columns("marts", "composite_scores")
        else "cast(null as integer) as n_considerations"
    )
    return _query(
        f"select period_start, score, status, method_version, {n_cons} "
        "from marts.composite_scores where grain = 'quarter' order by period_start"
    )


def indicator_scores(period_start: dt.date) -> pd.DataFrame:
    """City-scope indicators for one quarter with the previous quarter's score."""
    return _query(
        """
        with v as (
            select indicator_id, period_start, value, target, score, status, n,
                   lag(score) over (partition by indicator_id order by period_start) as prev_score
            from marts.indicator_values
            where grain = 'quarter' and scope = 'city'
        )
        select v.indicator_id, c.name, c.consideration, c.unit, c.direction, v.value, v.target,
               v.score, v.status, v.n, v.prev_score, v.score - v.prev_score as change
        from v join marts.indicator_catalog c using (indicator_id)
        where v.period_start = ?
        order by c.consideration, v.indicator_id
        """,
        period_start,
    )


def indicator_status_history() -> pd.DataFrame:
    """City-scope quarterly score and status of every indicator (input to the review agenda)."""
    return _query(
        """
        select v.indicator_id, c.name, c.consideration, v.period_start, v.score, v.status
        from marts.indicator_values v join marts.indicator_catalog c using (indicator_id)
        where v.grain = 'quarter' and v.scope = 'city'
        order by v.indicator_id, v.period_start
        """
    )


# --- indicators of one consideration ------------------------------------------------------


def indicator_catalog(consideration: int | None = None) -> pd.DataFrame:
    return _query(
        "select * from marts.indicator_catalog "
        "where ? is null or consideration = ? order by consideration, indicator_id",
        consideration,
        consideration,
    )


def indicator_series(consideration: int, scope: str = "city") -> pd.DataFrame:
    # is_stale arrived with method 1.1; older snapshots read as not stale.
    stale = "v.is_stale" if "is_stale" in _columns("marts", "indicator_values") else "false as is_stale"
    return _query(
        f"""
        select v.indicator_id, c.name, v.period_start, v.value, v.target, v.score, v.status, v.n,
               {stale}
        from marts.indicator_values v join marts.indicator_catalog c using (indicator_id)
        where c.consideration = ? and v.scope = ? and v.grain = 'quarter'
        order by v.indicator_id, v.period_start
        """,
        consideration,
        scope,
    )


def targets_history(consideration: int) -> pd.DataFrame:
    """Target versions, oldest first: the catalogue default (version 1), then each revision.

    The default applies to every period before the first revision, whatever its
    ``effective_from`` (the date the catalogue was written, which can be after the data).
    """
    columns = _columns("marts", "indicator_targets_history")
    order = "h.version_number" if "version_number" in columns else "h.effective_from, h.set_at"
    return _query(
        f"""
        select h.indicator_id, h.target, h.effective_from, h.target_rule, h.set_by, h.set_at,
               h.reason,
               row_number() over (partition by h.indicator_id order by {order}) as version
        from marts.indicator_targets_history h
        join marts.indicator_catalog c using (indicator_id)
        where c.consideration = ?
        order by h.indicator_id, version
        """,
        consideration,
    )


def district_values(period_start: dt.date, consideration: int | None = None) -> pd.DataFrame:
    """Indicator x district for one quarter, with ``min_n`` for the suppression note."""
    return _query(
        """
        select v.indicator_id, c.name, c.consideration, c.unit, c.direction, c.min_n,
               v.scope as district_code, d.district_name, v.value, v.target, v.score,
               v.status, v.n
        from marts.indicator_values v
        join marts.indicator_catalog c using (indicator_id)
        join marts.districts d on d.district_code = v.scope
        where v.grain = 'quarter' and v.period_start = ? and (? is null or c.consideration = ?)
        order by c.consideration, v.indicator_id, v.scope
        """,
        period_start,
        consideration,
        consideration,
    )


def districts() -> pd.DataFrame:
    return _query(
        "select district_code, district_name, population, digital_access_rate, geometry_json "
        "from marts.districts order by district_code"
    )


# --- equity -------------------------------------------------------------------------------


def disparity_ratios(period_start: dt.date) -> pd.DataFrame:
    """Per indicator: best and worst district score and their ratio (suppressed cells left out)."""
    return _query(
        """
        select v.indicator_id, c.name, c.consideration,
               max(v.score) as best_score, arg_max(v.scope, v.score) as best_district,
               min(v.score) as worst_score, arg_min(v.scope, v.score) as worst_district,
               max(v.score) / nullif(min(v.score), 0) as disparity_ratio,
               count(*) filter (where v.status = 'suppressed') as suppressed_districts
        from marts.indicator_values v
        join marts.indicator_catalog c using (indicator_id)
        where v.grain = 'quarter' and v.period_start = ?
          and v.scope in (select district_code from marts.districts)
        group by v.indicator_id, c.name, c.consideration
        order by disparity_ratio desc nulls last, v.indicator_id
        """,
        period_start,
    )


def equity_theil() -> pd.DataFrame | None:
    """Quarterly rows of ``marts.equity_theil`` (T = between + within), oldest first.

    None when the snapshot predates the table.
    """
    if not table_exists("marts", "equity_theil"):
        return None
    return _query(
        "select period_start, theil_t, between_district, within_district, "
        "between_district / nullif(theil_t, 0) as between_share "
        "from marts.equity_theil where grain = 'quarter' order by period_start"
    )


def reporting_rates(period_start: dt.date) -> pd.DataFrame:
    """Requests per 1,000 adults by district vs the city rate (an under-reporting signal)."""
    return _query(
        """
        with f as (
            select scope as district_code, received
            from marts.feedback_funnel
            where grain = 'quarter' and period_start = ?
        ),
        r as (
            select d.district_code, d.district_name, d.population, d.digital_access_rate,
                   d.geometry_json, f.received,
                   1000.0 * f.received / nullif(d.population, 0) as per_1000
            from marts.districts d left join f using (district_code)
        )
        select *, per_1000 / nullif(
                   1000.0 * sum(received) over () / nullif(sum(population) over (), 0), 0
               ) as relative_to_city
        from r order by district_code
        """,
        period_start,
    )


# --- survey -------------------------------------------------------------------------------


def survey_questions() -> pd.DataFrame:
    return _query(
        "select distinct question_id, consideration from marts.survey_estimates "
        "order by consideration, question_id"
    )


def survey_periods() -> list[dt.date]:
    df = _query("select distinct period_start from marts.survey_estimates order by period_start")
    return [pd.Timestamp(v).date() for v in df["period_start"]]


def survey_estimates(
    period_start: dt.date | None, question_id: str, group_type: str | None = None
) -> pd.DataFrame:
    return _query(
        """
        select period_start, question_id, consideration, group_type, group_value, n, unweighted,
               weighted, n_eff, design_effect, ci_low, ci_high, suppressed
        from marts.survey_estimates
        where question_id = ? and (? is null or period_start = ?)
          and (? is null or group_type = ?)
        order by period_start, group_type, group_value
        """,
        question_id,
        period_start,
        period_start,
        group_type,
        group_type,
    )


# --- resident voice -----------------------------------------------------------------------


def search_comments(
    text: str = "",
    district_code: str | None = None,
    topic_label: str | None = None,
    limit: int = 50,
) -> pd.DataFrame:
    """Redacted resident comments containing ``text`` (case-insensitive, literal), newest first.

    The snapshot stores the comments in the order they were opened, so the newest matches are
    found without reading the older row groups once the first ``limit`` are in hand.
    """
    limit = max(1, min(int(limit), COMMENT_LIMIT_MAX))
    return _query(
        """
        select request_id, opened_at, district_code, category, channel, status, topic_label,
               sentiment, description
        from marts.resident_comments
        where (? = '' or contains(lower(description), lower(?)))
          and (? is null or district_code = ?)
          and (? is null or topic_label = ?)
        order by opened_at desc, request_id
        limit ?
        """,
        text,
        text,
        district_code,
        district_code,
        topic_label,
        topic_label,
        limit,
    )


def comment_topics() -> list[str]:
    """Topic labels, from the small monthly trends mart (no scan of the comments)."""
    df = _query(
        "select distinct topic_label from marts.feedback_text_trends "
        "where topic_label is not null order by topic_label"
    )
    return list(df["topic_label"])


def text_trends(scope: str = "city") -> pd.DataFrame:
    return _query(
        "select period_start, topic_label, n, mean_sentiment from marts.feedback_text_trends "
        "where scope = ? order by period_start, topic_label",
        scope,
    )


def feedback_funnel(scope: str = "city") -> pd.DataFrame:
    return _query(
        "select period_start, received, responded, resolved, confirmed_fixed "
        "from marts.feedback_funnel where grain = 'quarter' and scope = ? order by period_start",
        scope,
    )


# --- data health --------------------------------------------------------------------------


def source_freshness() -> pd.DataFrame:
    """``marts.source_freshness``: staleness judged as of the newest data date across sources."""
    return _query(
        "select source, last_loaded_at, latest_data_at, expected_cadence_days, is_stale "
        "from marts.source_freshness order by source"
    )


def load_summary() -> pd.DataFrame:
    return _query(
        """
        select source,
               max(loaded_at) filter (where status = 'loaded') as last_loaded_at,
               count(*) as files,
               count(*) filter (where status = 'rejected') as files_rejected,
               count(*) filter (where status = 'duplicate') as files_duplicate,
               coalesce(sum(rows_read), 0) as rows_read,
               coalesce(sum(rows_accepted), 0) as rows_accepted,
               coalesce(sum(rows_quarantined), 0) as rows_quarantined,
               coalesce(sum(rows_quarantined), 0) / nullif(sum(rows_read), 0)
                   as quarantine_rate
        from ops.load_log group by source order by source
        """
    )


def load_log(limit: int = 200) -> pd.DataFrame:
    return _query(
        "select loaded_at, source, file, status, error, rows_read, rows_accepted, "
        "rows_quarantined from ops.load_log order by loaded_at desc limit ?",
        int(limit),
    )


def last_build() -> dict[str, Any] | None:
    """The last build's outcome (``build_status.json``): published or not, and which checks failed."""
    path = config.build_status_path()
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def check_results(limit: int = 200) -> pd.DataFrame:
    """Quality-check outcomes per build (``ops.check_results``), newest first."""
    if not table_exists("ops", "check_results"):
        return pd.DataFrame(
            columns=["checked_at", "build_id", "asset", "check_name", "severity", "passed", "summary"]
        )
    return _query(
        "select checked_at, build_id, asset, check_name, severity, passed, summary "
        "from ops.check_results order by checked_at desc, asset limit ?",
        int(limit),
    )


def quarantine_reasons(top: int = 5) -> pd.DataFrame:
    """The ``top`` most frequent quarantine reasons per source."""
    return _query(
        """
        select source, reason, n from (
            select source, reason, count(*) as n,
                   row_number() over (partition by source order by count(*) desc, reason) as rk
            from ops.quarantine group by source, reason
        ) where rk <= ? order by source, n desc, reason
        """,
        int(top),
    )


# --- review -------------------------------------------------------------------------------


def review_actions() -> pd.DataFrame:
    return _query(
        "select entry_id, review_quarter, indicator_id, action_text, action_owner, action_due, "
        "action_status, action_completed_on, is_overdue from marts.review_actions "
        "order by action_due, entry_id"
    )


# --- national rollup (published/civicloop_national.duckdb) ---------------------------------


def national_available() -> bool:
    try:
        national_snapshot_version()
    except NationalSnapshotMissingError:
        return False
    return True


def national_build_info() -> dict[str, Any]:
    """Engine, time and the versions the national build accepted as comparable."""
    df = _national(
        "select engine, published_at, expected_method_version, min_framework_version, n_cities "
        "from national.build_info"
    )
    return df.iloc[0].to_dict()


def national_cities() -> pd.DataFrame:
    return _national(
        "select city_slug, city_name, population, framework_version, method_version, period_start, "
        "period_end, has_request_facts, is_comparable, comparability_reason "
        "from national.national_cities order by city_name"
    )


def national_quarters() -> list[dt.date]:
    df = _national("select distinct period_start from national.national_city_scores order by period_start")
    return [pd.Timestamp(v).date() for v in df["period_start"]]


def national_scores(period_start: dt.date) -> pd.DataFrame:
    """City x consideration scores of one quarter, with the composite and comparability."""
    return _national(
        "select city_slug, city_name, consideration, score, status, composite_score, method_version, "
        "is_comparable from national.national_city_scores where period_start = ? "
        "order by city_name, consideration",
        period_start,
    )


def national_spread(period_start: dt.date) -> pd.DataFrame:
    return _national(
        "select consideration, n_cities, n_not_comparable, min_score, p25_score, median_score, "
        "p75_score, max_score, iqr from national.national_consideration_spread "
        "where period_start = ? order by consideration",
        period_start,
    )


def national_evidence() -> pd.DataFrame:
    return _national(
        "select cities.city_name, coverage.evidence_source, coverage.is_present, "
        "coverage.last_period_with_value from national.national_evidence_coverage as coverage "
        "inner join national.national_cities as cities using (city_slug) "
        "order by cities.city_name, coverage.evidence_source"
    )


def national_normalised(period_start: dt.date) -> pd.DataFrame:
    return _national(
        "select cities.city_name, indicators.indicator, indicators.value, indicators.is_comparable "
        "from national.national_normalised_indicators as indicators "
        "inner join national.national_cities as cities using (city_slug) "
        "where indicators.period_start = ? order by cities.city_name, indicators.indicator",
        period_start,
    )
