"""One consideration: each indicator's definition, target and its history, trend, districts, map."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

ui.require_snapshot()
names = data.consideration_names()
consideration = int(
    ui.url_select(
        "Consideration", "consideration", [str(c) for c in sorted(names)],
        format_func=lambda c: names[int(c)], container=st.sidebar,
    )
)
period = ui.period_filter(st.sidebar)
district_table = data.districts()
district_names = dict(zip(district_table["district_code"], district_table["district_name"],
                          strict=True))
scope = ui.url_select(
    "Trend for", "district", ["city", *district_names],
    format_func=lambda s: "Whole city" if s == "city" else f"{s} {district_names[s]}",
    container=st.sidebar,
)
focus = st.query_params.get("indicator")

st.title(names[consideration])
scores = data.consideration_scores()
row = scores[(scores["consideration"] == consideration)
             & (pd.to_datetime(scores["period_start"]) == pd.Timestamp(period))]
if not row.empty:
    c1, c2 = st.columns([1, 3])
    c1.metric(f"Score {ui.quarter_label(period)}", ui.points(row.iloc[0]["score"]), border=True)
    with c2:
        ui.status_badge(str(row.iloc[0]["status"]))
        st.caption("Weight-weighted mean of the indicators' city scores (100 = on target).")

catalog = data.indicator_catalog(consideration)
series = data.indicator_series(consideration, scope)
history = data.targets_history(consideration)
by_district = data.district_values(period, consideration)

for ind in catalog.itertuples():
    with st.container(border=True):
        st.subheader(f"{ind.indicator_id} · {ind.name}")
        if focus == ind.indicator_id:
            st.info("This indicator is on the review agenda.", icon=":material/flag:")
        direction = "higher is better" if ind.direction == "higher_is_better" else "lower is better"
        st.markdown(f"**Definition.** {ind.definition}")
        st.caption(f"Unit: {ind.unit} · {direction} · weight {ind.weight:g} · minimum n "
                   f"{int(ind.min_n)} · source: {ind.source}")

        versions = history[history["indicator_id"] == ind.indicator_id]
        current = versions[pd.to_datetime(versions["effective_from"]) <= pd.Timestamp(period)]
        if not current.empty:
            now = current.iloc[-1]
            st.markdown(
                f"**Target {now['target']:g} {ind.unit}** — rule *{now['target_rule']}*, set by "
                f"{now['set_by']} on {pd.Timestamp(now['set_at']):%Y-%m-%d}, effective "
                f"{pd.Timestamp(now['effective_from']):%Y-%m-%d}: {now['reason']}"
            )
        with st.expander(f"Where the target came from ({len(versions)} version(s))"):
            st.dataframe(
                versions.drop(columns=["indicator_id"]).rename(columns={
                    "target": "Target", "effective_from": "Effective from", "target_rule": "Rule",
                    "set_by": "Set by", "set_at": "Set at", "reason": "Why"}),
                hide_index=True,
            )

        trend, districts_col = st.columns([3, 2])
        with trend:
            own = series[series["indicator_id"] == ind.indicator_id]
            st.markdown(f"**Trend — {'whole city' if scope == 'city' else district_names[scope]}**")
            if own["value"].notna().any():
                st.altair_chart(charts.trend_with_target(own, ind.unit))
            if (own["status"] == "suppressed").any():
                quarters = ", ".join(ui.quarter_label(q) for q in
                                     own.loc[own["status"] == "suppressed", "period_start"])
                st.caption(f"Suppressed (n<{int(ind.min_n)}) in {quarters}.")
        with districts_col:
            cells = by_district[by_district["indicator_id"] == ind.indicator_id].copy()
            cells["label"] = [ui.cell_value(r.value, r.status, r.n, r.min_n)
                              for r in cells.itertuples()]
            st.markdown(f"**Districts — {ui.quarter_label(period)}**")
            st.dataframe(
                pd.DataFrame({
                    "District": cells["district_code"] + " " + cells["district_name"],
                    "Value": cells["label"],
                    "Score": cells["score"].map(ui.points),
                    "Status": cells["status"].map(ui.status_text),
                    "n": cells["n"],
                }),
                hide_index=True,
            )
            geo = district_table.merge(
                cells[["district_code", "score", "label"]], on="district_code", how="left"
            )
            geo["score_points"] = geo["score"] * 100
            st.altair_chart(charts.choropleth(geo.drop(columns=["score"]), "score_points",
                                              "Score (pts)", "label"))
ui.snapshot_caption()
