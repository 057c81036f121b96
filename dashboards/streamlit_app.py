"""civicloop dashboard router: ``streamlit run dashboards/streamlit_app.py``.

Pages live in ``app_pages/``; shared filters (period, district, consideration) are kept in the
URL query string so any view can be shared as a link.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:  # ``streamlit run`` puts only dashboards/ on the path
    sys.path.insert(0, _REPO_ROOT)

from dashboards import config  # noqa: E402

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title=f"civicloop · {config.city_name()}", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            PAGES / "overview.py",
            title="Overview",
            icon=":material/dashboard:",
            url_path="overview",
            default=True,
        ),
        st.Page(
            PAGES / "consideration.py",
            title="Consideration",
            icon=":material/insights:",
            url_path="consideration",
        ),
        st.Page(PAGES / "equity.py", title="Equity", icon=":material/balance:", url_path="equity"),
        st.Page(
            PAGES / "resident_voice.py",
            title="Resident voice",
            icon=":material/forum:",
            url_path="resident-voice",
        ),
        st.Page(PAGES / "survey.py", title="Survey", icon=":material/ballot:", url_path="survey"),
        st.Page(
            PAGES / "data_health.py",
            title="Data health",
            icon=":material/monitor_heart:",
            url_path="data-health",
        ),
        st.Page(
            PAGES / "quarterly_review.py",
            title="Quarterly review",
            icon=":material/gavel:",
            url_path="quarterly-review",
        ),
        st.Page(
            PAGES / "national.py",
            title="National rollup",
            icon=":material/public:",
            url_path="national",
        ),
    ]
)
navigation.run()
