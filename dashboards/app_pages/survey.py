"""Survey: weighted vs unweighted estimates with n_eff, design effect and confidence intervals."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

GROUP_TYPES = ["city", "district", "age_band", "sex", "digital_access"]

st.title("Resident survey")
ui.require_snapshot()
names = data.consideration_names()
questions = data.survey_questions()
labels = {
    r.question_id: f"{r.question_id} ({names.get(int(r.consideration), '')})" for r in questions.itertuples()
}
question = ui.url_select(
    "Question", "question", list(labels), format_func=lambda q: labels.get(q, q), container=st.sidebar
)
waves = data.survey_periods()
wave_labels = [ui.quarter_label(w) for w in waves]
wave_label = ui.url_select("Survey wave", "period", wave_labels[::-1], wave_labels[-1], container=st.sidebar)
wave = waves[wave_labels.index(wave_label)]
group_type = ui.url_select(
    "Break down by",
    "group",
    GROUP_TYPES,
    "district",
    format_func=lambda g: g.replace("_", " "),
    container=st.sidebar,
)

st.caption(
    "Weighted estimates use raked, trimmed weights. n_eff = effective sample size after "
    "weighting; design effect = n ÷ n_eff; 95% confidence interval on the weighted share."
)
est = data.survey_estimates(wave, question, group_type)
district_table = data.districts()
district_names = dict(zip(district_table["district_code"], district_table["district_name"], strict=True))
if group_type == "district":
    est["group_value"] = [f"{district_names.get(c, c)} ({c})" for c in est["group_value"]]


def pct(v: float) -> str:
    return "" if pd.isna(v) else f"{v:.1%}"


table = pd.DataFrame(
    {
        "Group": est["group_value"],
        "n": est["n"],
        "Unweighted": est["unweighted"].map(pct),
        "Weighted": est["weighted"].map(pct),
        "95% CI": [
            f"{pct(lo)} – {pct(hi)}" if not pd.isna(lo) else ""
            for lo, hi in zip(est["ci_low"], est["ci_high"], strict=True)
        ],
        "n_eff": est["n_eff"].round(0).astype("Int64"),
        "Design effect": est["design_effect"].round(2),
    }
)
suppressed = est["suppressed"].astype(bool)
for col in ("Unweighted", "Weighted", "95% CI"):
    table.loc[suppressed, col] = "suppressed (n<30)" if col == "Weighted" else "suppressed"
st.dataframe(table, hide_index=True, height=ui.table_height(len(table)))
if suppressed.any():
    st.caption("Suppressed cells: too few respondents to publish an estimate.")
if (~suppressed).any():
    st.altair_chart(charts.estimates_with_ci(est.assign(group=est["group_value"]), "group"))

st.subheader("City estimate over time")
city = data.survey_estimates(None, question, "city")
st.altair_chart(charts.share_over_time(city))
ui.snapshot_caption()
