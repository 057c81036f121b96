"""Equity: district disparity, the Theil split, under-reporting, digital take-up by group."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

st.title("Equity")
ui.require_snapshot()
period = ui.period_filter(st.sidebar)
names = data.consideration_names()

st.header("Disparity between districts")
st.caption(f"{ui.quarter_label(period)}. Ratio = best district score ÷ worst district score "
           "(1.00 = no gap). Suppressed district cells are left out and counted.")
ratios = data.disparity_ratios(period)
st.dataframe(
    pd.DataFrame({
        "Indicator": ratios["indicator_id"] + " " + ratios["name"],
        "Consideration": ratios["consideration"].map(names),
        "Disparity ratio": ratios["disparity_ratio"].round(2),
        "Best district": ratios["best_district"] + " (" + ratios["best_score"].map(ui.points) + ")",
        "Worst district": ratios["worst_district"] + " ("
        + ratios["worst_score"].map(ui.points) + ")",
        "Suppressed districts": ratios["suppressed_districts"],
    }),
    hide_index=True,
)

st.header("Theil index: between and within groups")
theil = data.equity_theil(period)
if theil is None:
    st.info("The published snapshot has no `marts.equity_theil` table yet (it is not part of the "
            "published contract in docs/contracts.md), so the Theil split cannot be shown.",
            icon=":material/info:")
elif theil.empty:
    st.info(f"`marts.equity_theil` has no rows for {ui.quarter_label(period)}.")
else:
    st.dataframe(theil, hide_index=True)

st.header("Under-reporting")
st.caption("Requests received per 1,000 adults this quarter. A district far below the city rate "
           "(relative rate < 1) may be under-reporting rather than having fewer problems — compare "
           "with its digital access rate.")
rates = data.reporting_rates(period)
rates["label"] = rates["per_1000"].map(lambda v: "no data" if pd.isna(v) else f"{v:.1f}")
left, right = st.columns([2, 3])
with left:
    st.altair_chart(charts.choropleth(
        rates[["district_code", "district_name", "geometry_json", "per_1000", "label"]],
        "per_1000", "Requests per 1,000", "label"))
with right:
    st.dataframe(
        pd.DataFrame({
            "District": rates["district_code"] + " " + rates["district_name"],
            "Requests": rates["received"],
            "Per 1,000 adults": rates["per_1000"].round(1),
            "Relative to city": rates["relative_to_city"].round(2),
            "Digital access": rates["digital_access_rate"].map(lambda v: f"{v:.0%}"),
        }),
        hide_index=True,
    )

st.header("Digital take-up by group")
questions = data.survey_questions()
digital = questions[questions["consideration"] == 4]["question_id"].tolist()
options = digital or questions["question_id"].tolist()
question = ui.url_select("Survey question", "question", options)
survey_quarters = [q for q in data.survey_periods() if q <= period]
if not survey_quarters:
    st.info("No survey wave up to this quarter.")
else:
    wave = survey_quarters[-1]
    est = data.survey_estimates(wave, question)
    est = est[est["group_type"] != "city"].copy()
    est["group"] = est["group_type"] + ": " + est["group_value"]
    st.caption(f"Survey wave {ui.quarter_label(wave)}, weighted share with 95% CI (filled dot), "
               "unweighted share (open circle).")
    st.altair_chart(charts.estimates_with_ci(est, "group"))
    hidden = est[est["suppressed"].astype(bool)]
    if not hidden.empty:
        st.caption("Suppressed (n below minimum): " + ", ".join(hidden["group"]) + ".")
ui.snapshot_caption()
