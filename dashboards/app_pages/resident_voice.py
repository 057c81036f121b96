"""Resident voice: search redacted comments, sentiment and topics over time, closing the loop."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data, ui

st.title("Resident voice")
ui.require_snapshot()
district_table = data.districts()
district_names = dict(zip(district_table["district_code"], district_table["district_name"], strict=True))
scope = ui.url_select(
    "District",
    "district",
    ["city", *district_names],
    format_func=lambda s: "Whole city" if s == "city" else f"{s} {district_names[s]}",
    container=st.sidebar,
)

st.header("Comments")
st.caption("Free text is redacted by the pipeline (names, phone numbers, addresses) and shown as plain text.")
a, b, c = st.columns([3, 2, 1])
search = a.text_input(
    "Search comments", value=st.query_params.get("q", ""), max_chars=100, key="comment_search"
)
topics = ["all", *data.comment_topics()]
topic = b.selectbox("Topic", topics, key="comment_topic")
limit = c.number_input(
    "Show", min_value=10, max_value=data.COMMENT_LIMIT_MAX, value=50, step=10, key="comment_limit"
)
if search:
    st.query_params["q"] = search
elif "q" in st.query_params:
    del st.query_params["q"]
# comments are read on demand only (a search, a topic, or the button), each time with a LIMIT
wanted = bool(search.strip()) or topic != "all" or st.session_state.get("show_latest", False)
if not wanted:
    st.caption("Type a search term or pick a topic to read comments.")
    if st.button("Show the latest comments", key="show_latest_button"):
        st.session_state["show_latest"] = True
        st.rerun()
else:
    comments = data.search_comments(
        search.strip(),
        None if scope == "city" else scope,
        None if topic == "all" else topic,
        int(limit),
    )
    st.caption(f"{len(comments)} comment(s) shown, newest first.")
    # st.dataframe renders cells as text (never HTML), so resident text cannot inject markup
    st.dataframe(
        comments.rename(
            columns={
                "request_id": "Request",
                "opened_at": "Opened",
                "district_code": "District",
                "category": "Category",
                "channel": "Channel",
                "status": "Status",
                "topic_label": "Topic",
                "sentiment": "Sentiment",
                "description": "Comment",
            }
        ),
        hide_index=True,
        column_config={
            "Sentiment": st.column_config.NumberColumn(format="%.2f"),
            "Comment": st.column_config.TextColumn(width="large"),
            "Opened": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )

st.header("Sentiment and topics over time")
trends = data.text_trends(scope)
if trends.empty:
    st.info("No text trends for this scope.")
else:
    st.altair_chart(charts.sentiment_topics(trends))

st.header("Closing the loop")
funnel = data.feedback_funnel(scope)
if funnel.empty:
    st.info("No funnel data for this scope.")
else:
    latest = funnel.iloc[-1]
    received = int(latest["received"])
    stages = pd.DataFrame(
        {
            "stage": ["Received", "Responded", "Resolved", "Confirmed fixed"],
            "count": [int(latest[c]) for c in ("received", "responded", "resolved", "confirmed_fixed")],
        }
    )
    stages["share"] = stages["count"] / received if received else 0.0
    st.caption(
        f"Quarter {ui.quarter_label(latest['period_start'])}: share of requests received "
        "that reached each stage."
    )
    st.altair_chart(charts.funnel(stages))
    history = funnel.assign(quarter=funnel["period_start"].map(ui.quarter_label))
    st.dataframe(
        history[["quarter", "received", "responded", "resolved", "confirmed_fixed"]].rename(
            columns={
                "quarter": "Quarter",
                "received": "Received",
                "responded": "Responded",
                "resolved": "Resolved",
                "confirmed_fixed": "Confirmed fixed",
            }
        ),
        hide_index=True,
    )
ui.snapshot_caption()
