"""The quarterly review agenda: pre-set triggers over published scores, freshness and actions.

Pure functions of DataFrames so that the rules are unit-testable without Streamlit.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

AGENDA_COLUMNS = ["item", "trigger", "indicator_id", "name", "consideration", "detail"]


def quarter_label(d: dt.date | pd.Timestamp) -> str:
    d = pd.Timestamp(d)
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def build_agenda(
    quarter: dt.date,
    status_history: pd.DataFrame,
    freshness: pd.DataFrame,
    actions: pd.DataFrame,
    settings: dict[str, float | bool],
) -> pd.DataFrame:
    """Agenda items for ``quarter``.

    ``status_history``: indicator_id, name, consideration, period_start, score, status (city).
    ``freshness``: source, is_stale, latest_data_at. ``actions``: indicator_id, action_text,
    action_owner, action_due, action_status, is_overdue.
    """
    items: list[dict] = []
    hist = status_history.copy()
    hist["period_start"] = pd.to_datetime(hist["period_start"])
    q = pd.Timestamp(quarter)
    prev_q = hist.loc[hist["period_start"] < q, "period_start"].max()
    now = hist[hist["period_start"] == q].set_index("indicator_id")
    before = hist[hist["period_start"] == prev_q].set_index("indicator_id")

    if settings.get("trigger_red_two_quarters", True) and not pd.isna(prev_q):
        for iid, row in now.iterrows():
            if row["status"] == "red" and iid in before.index and before.loc[iid, "status"] == "red":
                items.append(
                    {
                        "trigger": "red_two_quarters",
                        "indicator_id": iid,
                        "name": row["name"],
                        "consideration": int(row["consideration"]),
                        "detail": f"Red in {quarter_label(prev_q)} and {quarter_label(q)} "
                        f"(score {100 * row['score']:.1f}).",
                    }
                )
    threshold = float(settings.get("large_move_points", 10.0))
    if settings.get("trigger_large_move", True) and not pd.isna(prev_q):
        for iid, row in now.iterrows():
            if iid not in before.index or pd.isna(row["score"]) or pd.isna(before.loc[iid, "score"]):
                continue
            move = 100 * (row["score"] - before.loc[iid, "score"])
            if abs(move) > threshold:
                items.append(
                    {
                        "trigger": "large_move",
                        "indicator_id": iid,
                        "name": row["name"],
                        "consideration": int(row["consideration"]),
                        "detail": f"Moved {move:+.1f} points since {quarter_label(prev_q)} "
                        f"(threshold {threshold:g}).",
                    }
                )
    if settings.get("trigger_stale_data", True):
        for row in freshness[freshness["is_stale"].fillna(False).astype(bool)].itertuples():
            items.append(
                {
                    "trigger": "stale_data",
                    "indicator_id": f"source:{row.source}",
                    "name": "",
                    "consideration": None,
                    "detail": f"Latest data {pd.Timestamp(row.latest_data_at):%Y-%m-%d}; expected "
                    f"every {int(row.expected_cadence_days)} days.",
                }
            )
    if settings.get("trigger_action_overdue", True) and not actions.empty:
        names = status_history.drop_duplicates("indicator_id").set_index("indicator_id")
        for row in actions[actions["is_overdue"].fillna(False).astype(bool)].itertuples():
            known = row.indicator_id in names.index
            items.append(
                {
                    "trigger": "action_overdue",
                    "indicator_id": row.indicator_id,
                    "name": names.loc[row.indicator_id, "name"] if known else row.indicator_id,
                    "consideration": int(names.loc[row.indicator_id, "consideration"]) if known else None,
                    "detail": f"Action '{row.action_text}' ({row.action_owner}) was due "
                    f"{pd.Timestamp(row.action_due):%Y-%m-%d}.",
                }
            )
    agenda = pd.DataFrame(items, columns=AGENDA_COLUMNS[1:])
    agenda.insert(0, "item", range(1, len(agenda) + 1))
    return agenda


def merge_actions(published: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """Actions from the live register win over the published copy with the same entry_id."""
    cols = [
        "entry_id",
        "review_quarter",
        "indicator_id",
        "action_text",
        "action_owner",
        "action_due",
        "action_status",
        "action_completed_on",
        "is_overdue",
    ]
    live = register.reindex(columns=cols)
    corrected = set(register.get("corrects_entry_id", pd.Series(dtype=str)).dropna())
    pub = published.reindex(columns=cols)
    pub = pub[~pub["entry_id"].isin(set(live["entry_id"]) | corrected)]
    frames = [f for f in (pub, live) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=cols)
    merged = pd.concat(frames, ignore_index=True)
    for col in ("action_due", "action_completed_on"):
        merged[col] = pd.to_datetime(merged[col]).dt.date
    return merged.sort_values(["action_due", "entry_id"]).reset_index(drop=True)
