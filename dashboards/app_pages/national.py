"""National rollup: the six considerations across cities, their spread, comparability, evidence gaps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

st.title("National rollup")
if not data.national_available():
    st.info(
        "No national rollup has been published yet. Each city exports its published marts with "
        "`civicloop export --out DIR`; with every city's export in DIR, run "
        f"`{data.NATIONAL_BUILD_COMMAND}` (add `--engine spark` to build on Apache Spark).",
        icon=":material/public:",
    )
    st.caption("No published snapshot of the national rollup yet.")
    st.stop()

info = data.national_build_info()
cities = data.national_cities()
names = {c: f"{c}. {n}" for c, n in data.CONSIDERATION_SHORT_NAMES.items()}
st.caption(
    f"{int(info['n_cities'])} cities, built on {info['engine']} at "
    f"{pd.Timestamp(info['published_at']):%Y-%m-%d %H:%M}. Comparable: scoring method "
    f"{info['expected_method_version']}, civicloop {info['min_framework_version']} or newer."
)

quarters = data.national_quarters()
labels = [ui.quarter_label(q) for q in quarters]
chosen = ui.url_select("Quarter", "period", labels[::-1], labels[-1], container=st.sidebar)
period = quarters[labels.index(chosen)]

left_out = cities[~cities["is_comparable"].astype(bool)]
flag = {row.city_name: f"{row.city_name} (not comparable)" for row in left_out.itertuples()}

st.header("The six considerations across cities")
st.caption(
    f"{ui.quarter_label(period)}. Each cell is the city's consideration score in points "
    "(100 = on target), coloured by its status. Cities marked *not comparable* are shown but "
    "left out of the spread below."
)
scores = data.national_scores(period)
if scores.empty:
    st.info(f"No city has scores for {ui.quarter_label(period)}.")
else:
    scores["city_label"] = scores["city_name"].map(lambda name: flag.get(name, name))
    st.altair_chart(charts.national_heatmap(scores, names), width="stretch")
    wide = scores.pivot_table(
        index="city_label", columns="consideration", values="score", aggfunc="first", dropna=False
    )
    composite = scores.groupby("city_label")["composite_score"].first()
    table = pd.DataFrame({"City": wide.index})
    for consideration in sorted(names):
        column = wide[consideration] if consideration in wide.columns else pd.Series(index=wide.index)
        table[names[consideration]] = [ui.points(v) for v in column]
    table["Composite"] = [ui.points(composite.get(city)) for city in wide.index]
    with st.expander("Scores as a table, with the composite", expanded=len(table) <= 8):
        st.dataframe(table, hide_index=True, height=ui.table_height(len(table)))

st.header("Spread across comparable cities")
spread = data.national_spread(period)
if spread.empty or spread["n_cities"].max() == 0:
    st.info("No comparable city has scores for this quarter.")
else:
    st.caption(
        "Line: lowest to highest city; box: middle half of the cities (interquartile range); "
        "dark tick: median. Points, 100 = on target."
    )
    st.altair_chart(charts.spread_ranges(spread, names), width="stretch")
    st.dataframe(
        pd.DataFrame(
            {
                "Consideration": spread["consideration"].map(names),
                "Comparable cities": spread["n_cities"],
                "Left out": spread["n_not_comparable"],
                "Lowest": spread["min_score"].map(ui.points),
                "Median": spread["median_score"].map(ui.points),
                "Highest": spread["max_score"].map(ui.points),
                "Interquartile range": spread["iqr"].map(ui.points),
            }
        ),
        hide_index=True,
        height=ui.table_height(len(spread)),
    )

st.header("Comparability")
overview = pd.DataFrame(
    {
        "City": cities["city_name"],
        "Comparable": cities["is_comparable"].map({True: "yes", False: "no"}),
        "Why not": cities["comparability_reason"].fillna(""),
        "Method": cities["method_version"],
        "civicloop": cities["framework_version"],
        "Covers": [
            f"{ui.quarter_label(a)}–{ui.quarter_label(b)}"
            for a, b in zip(cities["period_start"], cities["period_end"], strict=True)
        ],
        "Population": cities["population"].map(lambda v: f"{int(v):,}"),
    }
)
if left_out.empty:
    st.success(
        "Every city was built with the same scoring method and a current civicloop.",
        icon=":material/check:",
    )
else:
    st.warning(
        f"{len(left_out)} of {len(cities)} cities are not comparable and are left out of the spread.",
        icon=":material/warning:",
    )
    flagged_rows = overview[overview["Comparable"] == "no"]
    st.dataframe(flagged_rows, hide_index=True, height=ui.table_height(len(flagged_rows)))
with st.expander(f"All {len(cities)} cities: versions, period covered, population"):
    st.dataframe(overview, hide_index=True, height=ui.table_height(len(overview)))

st.header("Evidence coverage")
st.caption(
    "Which evidence each city's export carries: a source counts as present when at least one of "
    "its indicators has a value; request-level facts are exported only where the city allows it."
)
evidence = data.national_evidence()
matrix = evidence.pivot_table(
    index="city_name", columns="evidence_source", values="is_present", aggfunc="first"
)
gaps = [
    f"{city} lacks {', '.join(s.replace('_', ' ') for s in matrix.columns if not matrix.loc[city, s])}"
    for city in matrix.index
    if not matrix.loc[city].all()
]
if gaps:
    st.warning("Evidence gaps: " + "; ".join(gaps) + ".", icon=":material/report:")
else:
    st.success("Every city's export carries every source of evidence.", icon=":material/check:")
with st.expander("Evidence by city and source", expanded=bool(gaps) and len(matrix) <= 8):
    st.dataframe(
        matrix.map(lambda present: "present" if present else "missing").reset_index(names="City"),
        hide_index=True,
        height=ui.table_height(len(matrix)),
    )

st.header("Normalised indicators")
st.caption(
    f"{ui.quarter_label(period)}. Reports per 1,000 residents and per-request shares of the "
    "closing-the-loop funnel, comparable across cities of any size."
)
normalised = data.national_normalised(period)
if normalised.empty:
    st.info(f"No funnel figures for {ui.quarter_label(period)}.")
else:
    shares = normalised.pivot_table(index="city_name", columns="indicator", values="value", aggfunc="first")
    formatted = pd.DataFrame({"City": [flag.get(c, c) for c in shares.index]})
    columns = {
        "reports_per_1k_residents": ("Reports per 1,000 residents", lambda v: f"{v:,.1f}"),
        "response_share": ("Responded", lambda v: f"{v:.1%}"),
        "resolution_share": ("Resolved", lambda v: f"{v:.1%}"),
        "fix_confirmed_share": ("Fix confirmed (of resolved)", lambda v: f"{v:.1%}"),
    }
    for key, (title, fmt) in columns.items():
        values = shares[key] if key in shares.columns else pd.Series(index=shares.index)
        formatted[title] = ["—" if pd.isna(v) else fmt(v) for v in values]
    st.dataframe(formatted, hide_index=True, height=ui.table_height(len(formatted)))

st.caption(f"Published snapshot of the national rollup: {pd.Timestamp(info['published_at']):%Y-%m-%d %H:%M}.")
