"""Quarterly review: the agenda from pre-set triggers, the decision register, the review pack."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards import agenda as agenda_rules
from dashboards import auth, config, data, review_pack, ui
from dashboards.decisions import SETTINGS, DecisionError, DecisionRegister, Entry

DECISION_LABELS = {
    "keep_target": "Keep target",
    "revise_target": "Revise target",
    "add_action": "Add action",
    "retire_indicator": "Retire indicator",
}
TRIGGER_LABELS = {
    "red_two_quarters": "Red two quarters running",
    "large_move": "Large move",
    "stale_data": "Stale data",
    "action_overdue": "Action past due",
}


@st.cache_data(ttl=600, show_spinner="Rendering the PDF…", max_entries=8)
def pdf_bytes(html_doc: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html_doc).write_pdf()


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def sign_in_panel() -> dict | None:
    """Sidebar sign-in; returns the signed-in editor or None (a viewer)."""
    editor = st.session_state.get("editor")
    with st.sidebar:
        st.markdown("**Editor sign-in**")
        if editor:
            st.write(f"Signed in as **{editor['username']}** ({editor['role']}).")
            if st.button("Sign out", key="sign_out"):
                del st.session_state["editor"]
                st.rerun()
            return editor
        editors = auth.load_editors(config.editors_path())
        if not editors:
            st.caption("No editor accounts are configured; the register is read-only.")
        with st.form("sign_in", clear_on_submit=True):
            username = st.text_input("Username", key="sign_in_user")
            password = st.text_input("Password", type="password", key="sign_in_password")
            if st.form_submit_button("Sign in"):
                found = auth.authenticate(editors, username, password)
                if found is None:
                    st.error("Unknown user or wrong password.")
                else:
                    st.session_state["editor"] = {"username": found.username, "role": found.role}
                    st.rerun()
        if sso_configured():
            st.button("Sign in with single sign-on", on_click=st.login, key="sso")
        else:
            st.caption(
                "Single sign-on (st.login / OIDC) is not configured on this server; "
                "editors sign in with their civicloop username and password."
            )
    if sso_configured() and getattr(st.user, "is_logged_in", False):
        editors = auth.load_editors(config.editors_path())
        email = str(st.user.get("email", ""))
        if email in editors:
            return {"username": email, "role": editors[email].role}
    return None


def decision_fields(prefix: str, quarter: str, indicator_id: str, corrects: str | None = None) -> Entry:
    """The inputs for one decision; returns the Entry they describe (validated on save)."""
    decision = st.radio(
        "Decision",
        list(DECISION_LABELS),
        format_func=DECISION_LABELS.get,
        horizontal=True,
        key=f"{prefix}_decision",
    )
    entry = Entry(
        review_quarter=quarter,
        indicator_id=indicator_id,
        decision=decision,
        rationale="",
        corrects_entry_id=corrects,
    )
    if decision == "revise_target":
        a, b = st.columns(2)
        entry.new_target = a.number_input("New target", value=None, key=f"{prefix}_target")
        entry.effective_from = b.date_input("Effective from", value=None, key=f"{prefix}_effective")
    if decision == "add_action":
        entry.action_text = st.text_input("Action", key=f"{prefix}_action")
        a, b, c = st.columns(3)
        entry.action_owner = a.text_input("Owner", key=f"{prefix}_owner")
        entry.action_due = b.date_input("Due", value=None, key=f"{prefix}_due")
        entry.action_status = c.selectbox("Status", ["open", "done"], key=f"{prefix}_status")
        if entry.action_status == "done":
            entry.action_completed_on = c.date_input(
                "Completed on", value=dt.date.today(), key=f"{prefix}_completed"
            )
    entry.rationale = st.text_area("Rationale", key=f"{prefix}_rationale", height=80)
    return entry


def save(register: DecisionRegister, entry: Entry, actor: str) -> None:
    try:
        entry_id = register.record(entry, actor)
    except DecisionError as exc:
        st.error(f"Not recorded: {exc}")
        return
    st.session_state["flash"] = f"Recorded entry {entry_id[:8]} for {entry.indicator_id}."
    st.rerun()


# --- page ---------------------------------------------------------------------------------

st.title("Quarterly review")
ui.require_snapshot()
period = ui.period_filter(st.sidebar)
quarter = ui.quarter_label(period)
editor = sign_in_panel()
register = DecisionRegister(config.decisions_path(), config.decisions_backup_dir())
settings = register.settings()
if flash := st.session_state.pop("flash", None):
    st.success(flash)
if editor is None:
    st.info(
        "You are viewing the register read-only. Editors sign in (sidebar) to record decisions.",
        icon=":material/visibility:",
    )

actions = agenda_rules.merge_actions(data.review_actions(), register.actions())
agenda = agenda_rules.build_agenda(
    period, data.indicator_status_history(), data.source_freshness(), actions, settings
)
current = register.current(quarter)

st.header(f"Agenda {quarter}")
st.caption(f"{len(agenda)} item(s) raised by the office's triggers (see *Agenda triggers* below).")
if agenda.empty:
    st.success("No trigger fired this quarter.")
for item in agenda.itertuples():
    with st.container(border=True):
        subject = f"{item.name} ({item.indicator_id})" if item.name else item.indicator_id
        title = f"{item.item}. {TRIGGER_LABELS[item.trigger]} — {subject}"
        st.markdown(f"**{title.strip()}**")
        st.text(item.detail)
        if item.consideration is not None and not pd.isna(item.consideration):
            st.markdown(
                ui.consideration_link(int(item.consideration), period, "Evidence →", item.indicator_id)
            )
        else:
            st.markdown("[Evidence →](data-health)")
        decided = current[current["indicator_id"] == item.indicator_id]
        for d in decided.itertuples():
            st.caption(
                f"Decided: {DECISION_LABELS[d.decision]} by {d.recorded_by} "
                f"({d.recorded_at[:10]}) — entry {d.entry_id[:8]}"
            )
        if editor is not None:
            with st.expander("Record a decision", expanded=decided.empty):
                entry = decision_fields(f"item{item.item}", quarter, item.indicator_id)
                if st.button("Record decision", key=f"item{item.item}_save", type="primary"):
                    save(register, entry, editor["username"])
if editor is not None:
    # a review can decide on any indicator, not only those a trigger raised
    with st.expander("Record a decision for another indicator", expanded=agenda.empty):
        catalog = data.indicator_catalog()
        indicator_names = dict(zip(catalog["indicator_id"], catalog["name"], strict=True))
        chosen = st.selectbox(
            "Indicator",
            list(indicator_names),
            format_func=lambda i: f"{indicator_names[i]} ({i})",
            key="any_indicator",
        )
        entry = decision_fields("any", quarter, chosen)
        if st.button("Record decision", key="any_save", type="primary"):
            save(register, entry, editor["username"])

st.header("Decision register")
show_all = st.toggle("All quarters", key="register_all")
every = register.entries(None if show_all else quarter)
if every.empty:
    st.caption("No entries yet.")
else:
    corrected = set(register.entries()["corrects_entry_id"].dropna())
    shown = every.assign(
        entry=every["entry_id"].str[:8],
        corrects=every["corrects_entry_id"].str[:8],
        in_force=~every["entry_id"].isin(corrected),
        decision=every["decision"].map(DECISION_LABELS),
    )
    st.dataframe(
        shown[
            [
                "entry",
                "recorded_at",
                "recorded_by",
                "review_quarter",
                "indicator_id",
                "decision",
                "new_target",
                "effective_from",
                "action_text",
                "action_owner",
                "action_due",
                "action_status",
                "rationale",
                "corrects",
                "in_force",
            ]
        ],
        hide_index=True,
    )
    st.caption(
        "Entries are never changed or deleted; a correction is a new entry that names the entry it corrects."
    )
    if editor is not None:
        with st.expander("Correct an entry"):
            live = register.current()
            choice = st.selectbox(
                "Entry to correct",
                list(live["entry_id"]),
                format_func=lambda e: (
                    lambda r: (
                        f"{e[:8]} · {r.review_quarter} · {r.indicator_id} · {DECISION_LABELS[r.decision]}"
                    )
                )(live[live["entry_id"] == e].iloc[0]),
                key="correct_choice",
            )
            original = live[live["entry_id"] == choice].iloc[0]
            entry = decision_fields(
                "correct", str(original["review_quarter"]), str(original["indicator_id"]), corrects=choice
            )
            if st.button("Record correction", key="correct_save", type="primary"):
                save(register, entry, editor["username"])

st.header("Actions")
if actions.empty:
    st.caption("No actions recorded.")
else:
    st.dataframe(
        actions.assign(overdue=actions["is_overdue"].map(lambda v: "OVERDUE" if bool(v) else ""))[
            [
                "review_quarter",
                "indicator_id",
                "action_text",
                "action_owner",
                "action_due",
                "action_status",
                "action_completed_on",
                "overdue",
            ]
        ].rename(
            columns={
                "review_quarter": "Review",
                "indicator_id": "Indicator",
                "action_text": "Action",
                "action_owner": "Owner",
                "action_due": "Due",
                "action_status": "Status",
                "action_completed_on": "Done on",
                "overdue": "Overdue",
            }
        ),
        hide_index=True,
        column_config={"Action": st.column_config.TextColumn(width="large")},
    )

st.header("Agenda triggers")
if editor is None:
    st.dataframe(
        pd.DataFrame(
            {"Trigger": [s.label for s in SETTINGS], "Setting": [str(settings[s.key]) for s in SETTINGS]}
        ),
        hide_index=True,
    )
else:
    with st.form("triggers"):
        new_values: dict[str, float | bool] = {}
        for s in SETTINGS:
            if isinstance(s.default, bool):
                new_values[s.key] = st.checkbox(s.label, value=bool(settings[s.key]), key=f"set_{s.key}")
            else:
                new_values[s.key] = st.number_input(
                    s.label, min_value=0.0, step=1.0, value=float(settings[s.key]), key=f"set_{s.key}"
                )
        if st.form_submit_button("Save triggers"):
            for key, value in new_values.items():
                if value != settings[key]:
                    register.set_setting(key, value, editor["username"])
            st.session_state["flash"] = "Agenda triggers saved."
            st.rerun()
    with st.expander("Audit log"):
        st.dataframe(register.audit_log(), hide_index=True)

st.header("Review pack")
names = data.consideration_names()
scores = data.consideration_scores()
scores = scores[pd.to_datetime(scores["period_start"]) == pd.Timestamp(period)]
composite = data.composite_scores()
composite = composite[pd.to_datetime(composite["period_start"]) == pd.Timestamp(period)]
scorecard = pd.concat(
    [
        pd.DataFrame(
            {
                "consideration": scores["consideration"].map(names),
                "score": scores["score"].map(ui.points),
                "status": scores["status"].map(ui.status_text),
            }
        ),
        pd.DataFrame(
            {
                "consideration": ["Composite"],
                "score": composite["score"].map(ui.points),
                "status": composite["status"].map(ui.status_text),
            }
        ),
    ],
    ignore_index=True,
)
pack = review_pack.ReviewPack(
    city=config.city_name(),
    quarter=quarter,
    tables={
        "agenda": agenda.assign(trigger=agenda["trigger"].map(TRIGGER_LABELS)),
        "scorecard": scorecard,
        "decisions": current.drop(columns=["corrects_entry_id"]),
        "actions": actions,
    },
)
html_doc = review_pack.to_html(pack)
a, b, c = st.columns(3)
a.download_button("Download HTML", html_doc, f"civicloop_review_{quarter}.html", "text/html", key="pack_html")
b.download_button(
    "Download CSV (zip)",
    review_pack.to_csv_zip(pack),
    f"civicloop_review_{quarter}_csv.zip",
    "application/zip",
    key="pack_csv",
)
try:
    b_pdf = pdf_bytes(html_doc)
except OSError as exc:  # pango / fonts missing on this machine
    c.warning(f"PDF export unavailable here: {exc}")
else:
    c.download_button(
        "Download PDF", b_pdf, f"civicloop_review_{quarter}.pdf", "application/pdf", key="pack_pdf"
    )
ui.snapshot_caption()
