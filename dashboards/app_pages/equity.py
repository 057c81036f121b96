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
st.caption(
    f"{ui.quarter_label(period)}. Ratio = best district score ÷ worst district score "
    "(1.00 = no gap). Suppressed district cells are left out and counted."
)
ratios = data.disparity_ratios(period)
district_names = dict(zip(data.districts()["district_code"], data.districts()["district_name"], strict=True))


def district_score(code: object, score: float | None) -> str:
    if code is None or pd.isna(code):
        return "—"
    return f"{district_names.get(code, code)} ({ui.points(score)})"


st.dataframe(
    pd.DataFrame(
        {
            "Indicator": ratios["name"],
            "Consideration": ratios["consideration"].map(names),
            "Disparity ratio": ratios["disparity_ratio"].round(2),
            "Best district": [
                district_score(c, v)
                for c, v in zip(ratios["best_district"], ratios["best_score"], strict=True)
            ],
            "Worst district": [
                district_score(c, v)
                for c, v in zip(ratios["worst_district"], ratios["worst_score"], strict=True)
            ],
            "Suppressed districts": ratios["suppressed_districts"],
        }
    ),
    hide_index=True,
    height=ui.table_height(len(ratios), 12),
)

st.header("Theil index of resolution time: between and within districts")
st.caption(
    "Theil T over the resolution hours of closed requests (0 = every request resolved "
    "equally fast). It splits exactly into a between-district part (districts differ "
    "from each other) and a within-district part (requests differ inside a district)."
)
theil = data.equity_theil()
if theil is None:
    st.info(
        "The published snapshot has no `marts.equity_theil` table yet, so the Theil split "
        "cannot be shown. Run the build again.",
        icon=":material/info:",
    )
else:
    now = theil[pd.to_datetime(theil["period_start"]) == pd.Timestamp(period)]
    if now.empty:
        st.info(f"No Theil index for {ui.quarter_label(period)} (no closed requests).")
    else:
        row = now.iloc[0]
        earlier = theil[pd.to_datetime(theil["period_start"]) < pd.Timestamp(period)]
        prev = earlier.iloc[-1] if not earlier.empty else None
        t, b, w = st.columns(3)
        t.metric(
            "Theil T",
            f"{row['theil_t']:.3f}",
            None if prev is None else f"{row['theil_t'] - prev['theil_t']:+.3f}",
            delta_color="inverse",
            border=True,
        )
        b.metric(
            "Between districts",
            f"{row['between_district']:.3f}",
            f"{row['between_share']:.0%} of T",
            delta_color="off",
            border=True,
        )
        w.metric(
            "Within districts",
            f"{row['within_district']:.3f}",
            f"{1 - row['between_share']:.0%} of T",
            delta_color="off",
            border=True,
        )
    st.altair_chart(charts.theil_split(theil))

st.header("Under-reporting")
st.caption(
    "Requests received per 1,000 adults this quarter. A district far below the city rate "
    "(relative rate < 1) may be under-reporting rather than having fewer problems — compare "
    "with its digital access rate."
)
rates = data.reporting_rates(period)
rates["label"] = rates["per_1000"].map(lambda v: "no data" if pd.isna(v) else f"{v:.1f}")
left, right = st.columns([2, 3])
with left:
    st.altair_chart(
        charts.choropleth(
            rates[["district_code", "district_name", "geometry_json", "per_1000", "label"]],
            "per_1000",
            "Requests per 1,000",
            "label",
        )
    )
with right:
    st.dataframe(
        pd.DataFrame(
            {
                "District": rates["district_code"] + " " + rates["district_name"],
                "Requests": rates["received"],
                "Per 1,000 adults": rates["per_1000"].round(1),
                "Relative to city": rates["relative_to_city"].round(2),
                "Digital access": rates["digital_access_rate"].map(lambda v: f"{v:.0%}"),
            }
        ),
        hide_index=True,
        height=ui.table_height(len(rates)),
    )

st.header("Digital take-up by group")
questions = data.survey_questions()
digital = [q for q in questions["question_id"] if "digital" in q]
options = digital + [q for q in questions["question_id"] if q not in digital]
question = ui.url_select("Survey question", "question", options)
survey_quarters = [q for q in data.survey_periods() if q <= period]
if not survey_quarters:
    st.info("No survey wave up to this quarter.")
else:
    wave = survey_quarters[-1]
    est = data.survey_estimates(wave, question)
    est = est[est["group_type"] != "city"].copy()
    est["group"] = [
        ui.group_label(t, v, district_names)
        for t, v in zip(est["group_type"], est["group_value"], strict=True)
    ]
    st.caption(
        f"Survey wave {ui.quarter_label(wave)}, weighted share with 95% CI (filled dot), "
        "unweighted share (open circle)."
    )
    st.altair_chart(charts.estimates_with_ci(est, "group"))
    hidden = est[est["suppressed"].astype(bool)]
    if not hidden.empty:
        st.caption("Suppressed (n below minimum): " + ", ".join(hidden["group"]) + ".")
ui.snapshot_caption()
