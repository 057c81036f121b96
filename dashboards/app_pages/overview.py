"""Overview: the six considerations, the composite, best and worst indicators, data freshness."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import config, data, ui

st.title(f"{config.city_name()} — feedback loop overview")
ui.require_snapshot()
ui.freshness_banner()

period = ui.period_filter(st.sidebar)
st.caption(
    f"Quarter {ui.quarter_label(period)}. Scores are value ÷ target as points (100 = on target, "
    "capped at 120); green ≥ 100, amber ≥ 90, red below."
)

names = data.consideration_names()
scores = data.consideration_scores()
scores = scores[pd.to_datetime(scores["period_start"]) <= pd.Timestamp(period)]

composite = data.composite_scores()
composite = composite[pd.to_datetime(composite["period_start"]) <= pd.Timestamp(period)]
if composite.empty:
    st.info("No composite score for this quarter.")
else:
    now = composite.iloc[-1]
    prev = composite.iloc[-2]["score"] if len(composite) > 1 else None
    left, right = st.columns([1, 3])
    with left:
        st.metric(
            "Composite score",
            ui.points(now["score"]),
            ui.change_points(None if prev is None else now["score"] - prev),
            chart_data=[round(100 * s, 1) for s in composite["score"]],
            border=True,
            help=f"Mean of the consideration scores (method {now['method_version']}).",
        )
        ui.status_badge(str(now["status"]))
    with right:
        n_cons = now.get("n_considerations")
        if n_cons is not None and not pd.isna(n_cons):
            st.caption(
                f"Composite: mean of {int(n_cons)} of the 6 consideration scores "
                f"({ui.quarter_label(now['period_start'])}, method "
                f"{now['method_version']})."
            )

st.subheader("The six considerations")
columns = st.columns(3)
for i, (number, label) in enumerate(sorted(names.items())):
    history = scores[scores["consideration"] == number]
    with columns[i % 3]:
        if history.empty:
            st.metric(label, "—", border=True)
            st.caption("No score for this quarter.")
            continue
        latest = history.iloc[-1]
        prev = history.iloc[-2]["score"] if len(history) > 1 else None
        st.metric(
            label,
            ui.points(latest["score"]),
            ui.change_points(None if prev is None else latest["score"] - prev),
            chart_data=[round(100 * s, 1) for s in history["score"]],
            border=True,
        )
        ui.status_badge(str(latest["status"]))
        st.markdown(ui.consideration_link(number, period, "Indicators and districts →"))

st.subheader("Best and worst indicators this quarter")
indicators = data.indicator_scores(period)
scored = indicators[indicators["score"].notna()].copy()
scored["Consideration"] = scored["consideration"].astype(int)
scored["Score"] = scored["score"].map(ui.points)
scored["Status"] = scored["status"].map(lambda s: ui.STATUS_WORDS.get(s, (str(s),))[0])
scored["Change"] = scored["change"].map(lambda c: "—" if pd.isna(c) else f"{100 * c:+.1f}")
table_cols = {
    "name": "Indicator",
    "Consideration": "No.",
    "Score": "Score",
    "Status": "Status",
    "Change": "Δ pts",
}
best, worst = st.columns(2)
with best:
    st.markdown("**Best five**")
    top = scored.sort_values(["score", "indicator_id"], ascending=[False, True]).head(5)
    st.dataframe(top[list(table_cols)].rename(columns=table_cols), hide_index=True)
with worst:
    st.markdown("**Worst five**")
    bottom = scored.sort_values(["score", "indicator_id"], ascending=[True, True]).head(5)
    st.dataframe(bottom[list(table_cols)].rename(columns=table_cols), hide_index=True)
suppressed = int((indicators["status"] == "suppressed").sum())
if suppressed:
    st.caption(f"{suppressed} indicator(s) suppressed at city level this quarter (n below minimum).")
ui.snapshot_caption()
