"""One consideration: each indicator's definition, target and its history, trend, districts, map."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

ui.require_snapshot()
names = data.consideration_names()
consideration = int(
    ui.url_select(
        "Consideration",
        "consideration",
        [str(c) for c in sorted(names)],
        format_func=lambda c: names[int(c)],
        container=st.sidebar,
    )
)
period = ui.period_filter(st.sidebar)
district_table = data.districts()
district_names = dict(zip(district_table["district_code"], district_table["district_name"], strict=True))
scope = ui.url_select(
    "Trend for",
    "district",
    ["city", *district_names],
    format_func=lambda s: "Whole city" if s == "city" else f"{s} {district_names[s]}",
    container=st.sidebar,
)
focus = st.query_params.get("indicator")

st.title(names[consideration])
scores = data.consideration_scores()
row = scores[
    (scores["consideration"] == consideration)
    & (pd.to_datetime(scores["period_start"]) == pd.Timestamp(period))
]
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
        st.subheader(ind.name)
        if focus == ind.indicator_id:
            st.info("This indicator is on the review agenda.", icon=":material/flag:")
        direction = "higher is better" if ind.direction == "higher_is_better" else "lower is better"
        st.markdown(f"**Definition.** {ind.definition}")
        st.caption(
            f"Indicator {ind.indicator_id} · unit: {ind.unit} · {direction} · weight "
            f"{ind.weight:g} · minimum n {int(ind.min_n)} · source: {ind.source}"
        )

        newest_stale = series[(series["indicator_id"] == ind.indicator_id) & series["is_stale"].astype(bool)]
        if not newest_stale.empty and pd.Timestamp(newest_stale["period_start"].iloc[-1]) <= pd.Timestamp(
            period
        ):
            st.warning(
                f"Not current: the newest value ({ui.quarter_label(newest_stale['period_start'].iloc[-1])}) "
                f"comes from a source that has stopped delivering ({ind.source}). See Data health.",
                icon=":material/update:",
            )

        versions = history[history["indicator_id"] == ind.indicator_id]
        # the catalogue default (version 1) applies until the first revision takes effect
        in_force = versions[
            (versions["version"] == 1) | (pd.to_datetime(versions["effective_from"]) <= pd.Timestamp(period))
        ]
        if not in_force.empty:
            now = in_force.iloc[-1]
            target = ui.fmt_value(now["target"], ind.unit)
            when = f"{pd.Timestamp(now['set_at']):%Y-%m-%d}"
            # a rule-based target (e.g. history_mean_minus_sd) is computed per period: show the
            # target the score used, and the catalogue value as the rule's fallback
            applied = series[
                (series["indicator_id"] == ind.indicator_id)
                & (pd.to_datetime(series["period_start"]) == pd.Timestamp(period))
            ]
            used = applied["target"].iloc[0] if not applied.empty else None
            if (
                int(now["version"]) == 1
                and now["target_rule"] != "fixed"
                and used is not None
                and not pd.isna(used)
                and abs(float(used) - float(now["target"])) > 1e-9
            ):
                target = ui.fmt_value(used, ind.unit)
                origin = (
                    f"computed by rule *{now['target_rule']}* (catalogue fallback "
                    f"{ui.fmt_value(now['target'], ind.unit)}, set by {now['set_by']} on "
                    f"{when})"
                )
            elif int(now["version"]) == 1:
                origin = f"catalogue default, rule *{now['target_rule']}*, set by {now['set_by']} on {when}"
            else:
                origin = (
                    f"revised by {now['set_by']} on {when}, effective "
                    f"{pd.Timestamp(now['effective_from']):%Y-%m-%d}"
                )
            st.markdown(
                f"**Target in {ui.quarter_label(period)}: {target}** — {origin}. Why: {now['reason']}"
            )
            later = versions[versions["version"] > now["version"]]
            if not later.empty:
                nxt = later.iloc[0]
                st.caption(
                    f"Next: {ui.fmt_value(nxt['target'], ind.unit)} from "
                    f"{pd.Timestamp(nxt['effective_from']):%Y-%m-%d} "
                    f"(set by {nxt['set_by']})."
                )
        with st.expander(
            f"Where the target came from ({len(versions)} version(s))", expanded=focus == ind.indicator_id
        ):
            st.table(
                pd.DataFrame(
                    {
                        "Target": [ui.fmt_value(v, ind.unit) for v in versions["target"]],
                        "Effective from": [
                            "start (default)" if int(v) == 1 else f"{pd.Timestamp(d):%Y-%m-%d}"
                            for v, d in zip(versions["version"], versions["effective_from"], strict=True)
                        ],
                        "Rule": versions["target_rule"],
                        "Set by": versions["set_by"],
                        "Set at": versions["set_at"].map(lambda t: f"{pd.Timestamp(t):%Y-%m-%d %H:%M}"),
                        "Why": versions["reason"],
                    }
                ).set_index("Target"),
            )

        trend, districts_col = st.columns([1, 1])
        with trend:
            own = series[series["indicator_id"] == ind.indicator_id]
            st.markdown(f"**Trend — {'whole city' if scope == 'city' else district_names[scope]}**")
            if own["value"].notna().any():
                st.altair_chart(charts.trend_with_target(own, ind.unit))
            else:
                st.caption("No value to chart in any quarter.")
            if (own["status"] == "suppressed").any():
                quarters = ", ".join(
                    ui.quarter_label(q) for q in own.loc[own["status"] == "suppressed", "period_start"]
                )
                st.caption(f"Suppressed (n<{int(ind.min_n)}) in {quarters}.")
            cells = by_district[by_district["indicator_id"] == ind.indicator_id].copy()
            cells["label"] = [
                ui.cell_value(r.value, r.status, r.n, r.min_n, ind.unit) for r in cells.itertuples()
            ]
            cells["map_label"] = [
                ui.fmt_value(r.value, ind.unit) if r.status != "suppressed" else "n<" + str(int(r.min_n))
                for r in cells.itertuples()
            ]
            if not cells.empty:
                geo = district_table.merge(
                    cells[["district_code", "score", "label", "map_label"]],
                    on="district_code",
                    how="left",
                )
                geo["score_points"] = geo["score"] * 100
                st.markdown(f"**Map of district scores — {ui.quarter_label(period)}** (grey: suppressed)")
                st.altair_chart(
                    charts.choropleth(
                        geo.drop(columns=["score"]), "score_points", "Score (pts)", "label", "map_label"
                    )
                )
        with districts_col:
            st.markdown(f"**Districts — {ui.quarter_label(period)}**")
            if cells.empty:
                st.caption("No district breakdown for this indicator.")
            else:
                st.dataframe(
                    pd.DataFrame(
                        {
                            "District": cells["district_name"],
                            "Value": cells["label"],
                            "Score": cells["score"].map(ui.points),
                            "Status": cells["status"].map(lambda s: ui.STATUS_WORDS.get(s, (str(s),))[0]),
                            "n": cells["n"],
                        }
                    ),
                    hide_index=True,
                    height=ui.table_height(len(cells)),
                )
ui.snapshot_caption()
