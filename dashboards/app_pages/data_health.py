"""Data health: per source last load, rows, quarantine rate and reasons, freshness."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import data, ui

st.title("Data health")
ui.require_snapshot()
ui.freshness_banner()
ui.last_build_banner()

st.header("Sources")
summary = data.load_summary()
fresh = data.source_freshness()
merged = fresh.merge(summary, on="source", how="outer", suffixes=("_fresh", ""))
st.dataframe(
    pd.DataFrame(
        {
            "Source": merged["source"],
            "Fresh?": merged["is_stale"].map(lambda s: "STALE" if s is True or s == 1 else "fresh"),
            "Last load": merged["last_loaded_at"].fillna(merged["last_loaded_at_fresh"]),
            "Latest data": merged["latest_data_at"],
            "Expected every (days)": merged["expected_cadence_days"],
            "Files": merged["files"],
            "Rejected files": merged["files_rejected"],
            "Rows read": merged["rows_read"],
            "Rows accepted": merged["rows_accepted"],
            "Rows quarantined": merged["rows_quarantined"],
            "Quarantine rate": merged["quarantine_rate"].map(lambda v: "—" if pd.isna(v) else f"{v:.2%}"),
        }
    ),
    hide_index=True,
)

st.header("Top quarantine reasons")
reasons = data.quarantine_reasons(top=5)
if reasons.empty:
    st.success("Nothing quarantined.")
else:
    st.dataframe(
        reasons.rename(columns={"source": "Source", "reason": "Reason", "n": "Records"}), hide_index=True
    )

st.header("Quality checks")
st.caption("Great Expectations suites per build; blocking (error) failures stop a publish.")
checks = data.check_results()
if checks.empty:
    st.info("No quality-check results in this snapshot.")
else:
    st.dataframe(
        checks.rename(
            columns={
                "checked_at": "Checked",
                "build_id": "Build",
                "asset": "Table",
                "check_name": "Suite",
                "severity": "Worst failure",
                "passed": "Passed",
                "summary": "Findings",
            }
        ),
        hide_index=True,
    )

st.header("Load log")
st.dataframe(data.load_log(), hide_index=True)
ui.snapshot_caption()
