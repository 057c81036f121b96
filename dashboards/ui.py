"""Small UI helpers shared by the pages: URL-kept filters, status words, number formats."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboards import data

STATUS_WORDS = {
    "green": ("On target", "green", ":material/check_circle:"),
    "amber": ("Near target", "orange", ":material/warning:"),
    "red": ("Off target", "red", ":material/error:"),
    "suppressed": ("Suppressed", "gray", ":material/visibility_off:"),
}
STATUS_COLOURS = {"green": "#1a7f37", "amber": "#b35900", "red": "#c62828", "suppressed": "#8a8a8a"}


def quarter_label(d: dt.date | pd.Timestamp) -> str:
    d = pd.Timestamp(d)
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def status_text(status: str | None) -> str:
    """Status as words, never colour alone: ``Off target (red)``."""
    if status is None or (isinstance(status, float) and math.isnan(status)):
        return "No data"
    word = STATUS_WORDS.get(str(status), (str(status).title(), "gray", ""))[0]
    return f"{word} ({status})"


def status_badge(status: str) -> None:
    word, colour, icon = STATUS_WORDS.get(status, (str(status).title(), "gray", None))
    st.badge(f"{word} ({status})", color=colour, icon=icon)  # type: ignore[arg-type]


def points(score: float | None) -> str:
    """A score (value/target, 0-1.2) as points out of 100: 0.973 -> '97.3'."""
    if score is None or pd.isna(score):
        return "—"
    return f"{100 * float(score):.1f}"


def change_points(change: float | None) -> str | None:
    if change is None or pd.isna(change):
        return None
    return f"{100 * float(change):+.1f} pts vs last quarter"


def fmt_value(value: float | None, unit: str | None = None) -> str:
    """An indicator value in its unit: shares as percent, share points as points."""
    if value is None or pd.isna(value):
        return "—"
    v = float(value)
    unit = (unit or "").strip()
    if unit == "share":
        return f"{v:.1%}"
    if unit == "share points":
        return f"{100 * v:.1f} pts"
    number = f"{v:,.3g}" if abs(v) < 10 else f"{v:,.1f}".removesuffix(".0")
    # long units ("reports per 1,000 adults per month") are in the caption, not in every cell
    return number if unit in ("", "ratio", "index") or len(unit) > 8 else f"{number} {unit}"


def cell_value(
    value: float | None, status: str, n: int | None, min_n: int | None, unit: str | None = None
) -> str:
    """A value for a table cell; suppressed cells say so instead of showing zero or blank."""
    if status == "suppressed" or value is None or pd.isna(value):
        if min_n is not None and not pd.isna(min_n):
            return f"suppressed (n<{int(min_n)})"
        return "suppressed"
    return fmt_value(value, unit) if unit is not None else f"{float(value):,.2f}"


def last_build_banner() -> None:
    """Say when the last build was blocked (the snapshot is older) or published with warnings."""
    build = data.last_build()
    if build is None:
        return
    findings = build.get("check_findings") or {}
    if not build.get("published"):
        failed = build.get("failed_checks") or []
        steps = build.get("failed_steps") or []
        lines = [f"- **{name}**: {findings.get(name, '')}" for name in failed] or [
            f"- step **{step}** failed" for step in steps
        ]
        st.error(
            f"The last build ({build.get('finished_at', '?')}, run {str(build.get('run_id', ''))[:8]}) "
            "was **not published**; the figures shown come from the previous good build.\n\n"
            + "\n".join(lines),
            icon=":material/block:",
        )
    warned = build.get("warned_checks") or []
    if warned:
        st.warning(
            "Warnings in the last build:\n\n"
            + "\n".join(f"- **{name}**: {findings.get(name, '')}" for name in warned),
            icon=":material/warning:",
        )


def require_snapshot() -> None:
    """Stop the page with a clear message when there is no published snapshot."""
    try:
        data.snapshot_version()
    except data.SnapshotMissingError as exc:
        st.error(str(exc), icon=":material/database_off:")
        st.stop()


def url_select(
    label: str,
    key: str,
    options: Sequence[str],
    default: str | None = None,
    format_func: Callable[[str], str] = str,
    container: object = None,
) -> str:
    """A selectbox whose value lives in the URL (``st.query_params[key]``) so views can be shared."""
    options = list(options)
    wanted = st.query_params.get(key)
    if wanted not in options:
        wanted = default if default in options else options[0]
    target = container if container is not None else st
    choice = target.selectbox(  # type: ignore[attr-defined]
        label, options, index=options.index(wanted), format_func=format_func, key=f"qp_{key}"
    )
    if st.query_params.get(key) != choice:
        st.query_params[key] = choice
    return choice


def period_filter(container: object = None) -> dt.date:
    """Quarter picker kept in ``?period=YYYYQn``; defaults to the latest quarter."""
    qs = data.quarters()
    labels = [quarter_label(q) for q in qs]
    chosen = url_select("Quarter", "period", labels[::-1], labels[-1], container=container)
    return qs[labels.index(chosen)]


def freshness_banner() -> None:
    """Warn naming each stale source; say so when all are fresh."""
    fresh = data.source_freshness()
    stale = fresh[fresh["is_stale"].fillna(False).astype(bool)]
    if stale.empty:
        st.success("All sources are within their expected update cadence.", icon=":material/check:")
        return
    parts = [
        f"{r.source} (latest data {pd.Timestamp(r.latest_data_at):%Y-%m-%d}, expected every "
        f"{int(r.expected_cadence_days)} days)"
        for r in stale.itertuples()
    ]
    st.warning("Stale data: " + "; ".join(parts) + ".", icon=":material/schedule:")


def snapshot_caption() -> None:
    st.caption(f"Published snapshot of {data.snapshot_loaded_at():%Y-%m-%d %H:%M}.")


def consideration_url(consideration: int, period: dt.date, indicator_id: str | None = None) -> str:
    """Relative URL of the consideration page with its filters (works from any page)."""
    params = {"consideration": str(int(consideration)), "period": quarter_label(period)}
    if indicator_id:
        params["indicator"] = indicator_id
    return "consideration?" + urlencode(params)


def consideration_link(
    consideration: int, period: dt.date, text: str, indicator_id: str | None = None
) -> str:
    """A markdown link to the evidence; ``text`` must be trusted (not resident text)."""
    safe = text.replace("[", "(").replace("]", ")")
    return f"[{safe}]({consideration_url(consideration, period, indicator_id)})"


def table_height(rows: int, max_rows: int = 15) -> int:
    """Pixel height that shows ``rows`` rows of an ``st.dataframe`` (up to ``max_rows``)."""
    return 38 + 35 * max(1, min(rows, max_rows))


GROUP_TYPE_WORDS = {
    "district": "District",
    "age_band": "Age",
    "sex": "Sex",
    "digital_access": "Digital access",
    "city": "City",
}


def group_label(group_type: str, group_value: str, district_names: dict[str, str]) -> str:
    """``district``/``D04`` -> ``District: Eastfield``; ``age_band``/``75+`` -> ``Age: 75+``."""
    value = district_names.get(group_value, group_value) if group_type == "district" else group_value
    return f"{GROUP_TYPE_WORDS.get(group_type, group_type)}: {value}"
