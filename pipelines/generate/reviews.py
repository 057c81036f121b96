"""Past quarterly reviews in the decision-register layout (all quarters but the last).

Reviews are held 14 days after the quarter ends. The second reviewable quarter's review is
skipped and, when there are at least four, the fourth is held 60 days late. The first held
review revises a target with a typo and then corrects that entry.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import numpy as np
import polars as pl

from dashboards.decisions import COLUMNS as REGISTER_COLUMNS

# review_history.csv has the decision register's columns (docs/contracts.md).
REVIEW_COLUMNS: tuple[str, ...] = REGISTER_COLUMNS
INDICATOR_TARGETS: dict[str, float] = {
    "c1_city_listens": 0.45,
    "c2_district_disparity_ratio": 1.5,
    "c3_staff_trained_share": 0.6,
    "c4_trust": 0.55,
    "c5_response_share": 0.85,
    "c5_reopen_rate": 0.08,
    "c6_share_on_target": 0.7,
}
ACTIONS: tuple[tuple[str, str], ...] = (
    ("Publish response-time dashboard per district", "DTO"),
    ("Run digital-skills training for front-line staff", "HSG"),
    ("Add walk-in reporting sessions in Eastfield", "DTO"),
    ("Review crew allocation in Southgate", "PW"),
    ("Send outcome follow-up to every closed request", "ENV"),
)
ON_TIME_DAYS, LATE_DAYS = 14, 60
SKIPPED_REVIEW_INDEX, LATE_REVIEW_INDEX = 1, 3


def _entry_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def review_history(
    quarters: list[datetime.date], as_of: datetime.date, rng: np.random.Generator
) -> tuple[pl.DataFrame, dict]:
    """Entries for reviews of ``quarters[:-2]`` (starts; last element is the period end)."""
    rows: list[dict] = []
    reviewable = quarters[:-2]
    held: list[str] = []
    skipped: list[str] = []
    late: list[str] = []
    for index, quarter_start in enumerate(reviewable):
        label = f"{quarter_start.year}Q{(quarter_start.month - 1) // 3 + 1}"
        if index == SKIPPED_REVIEW_INDEX and len(reviewable) >= 3:
            skipped.append(label)
            continue
        is_late = index == LATE_REVIEW_INDEX
        (late if is_late else held).append(label)
        held_on = quarters[index + 1] + datetime.timedelta(LATE_DAYS if is_late else ON_TIME_DAYS)
        recorded_at = datetime.datetime.combine(held_on, datetime.time(10, 0)).isoformat()
        base: dict[str, object] = {c: None for c in REVIEW_COLUMNS} | {
            "recorded_at": recorded_at,
            "recorded_by": "performance.board",
            "review_quarter": label,
        }
        for indicator, target in INDICATOR_TARGETS.items():
            decision = rng.choice(["keep_target", "revise_target", "add_action"], p=[0.6, 0.2, 0.2])
            entry = base | {"entry_id": _entry_id(rng), "indicator_id": indicator, "decision": str(decision)}
            if decision == "revise_target":
                entry |= {
                    "new_target": round(target * float(rng.uniform(0.95, 1.1)), 3),
                    "effective_from": quarters[index + 1].isoformat(),
                    "rationale": "Target revised after reviewing last quarter's trend.",
                }
            elif decision == "add_action":
                action_text, owner = ACTIONS[int(rng.integers(0, len(ACTIONS)))]
                due = held_on + datetime.timedelta(60)
                done = due < as_of and rng.random() < 0.7
                completed = due + datetime.timedelta(int(rng.integers(-25, 30))) if done else None
                entry |= {
                    "action_text": action_text,
                    "action_owner": owner,
                    "action_due": due.isoformat(),
                    "action_status": "done" if done else "open",
                    "action_completed_on": completed.isoformat() if completed else None,
                    "rationale": "Indicator below target.",
                }
            else:
                entry |= {"rationale": "On track; target kept."}
            rows.append(entry)
        if len(held) + len(late) == 1:
            typo = base | {
                "entry_id": _entry_id(rng),
                "indicator_id": "c4_trust",
                "decision": "revise_target",
                "new_target": 5.5,
                "effective_from": quarters[index + 1].isoformat(),
                "rationale": "Raise trust target.",
            }
            rows.append(typo)
            rows.append(
                typo
                | {
                    "entry_id": _entry_id(rng),
                    "new_target": 0.55,
                    "rationale": "Correction: target is a share, 0.55 not 5.5.",
                    "corrects_entry_id": typo["entry_id"],
                }
            )
    frame = pl.DataFrame(
        rows, schema={c: pl.Float64 if c == "new_target" else pl.String for c in REVIEW_COLUMNS}
    )
    truth = {
        "reviewed_quarters": held + late,
        "skipped_quarters": skipped,
        "late_quarters": late,
        "on_time_days_after_quarter": ON_TIME_DAYS,
        "late_days_after_quarter": LATE_DAYS,
        "entries": frame.height,
        "corrections": int(frame["corrects_entry_id"].is_not_null().sum()),
    }
    return frame, truth


def write_reviews(
    reviews_dir: Path, quarters: list[datetime.date], as_of: datetime.date, rng: np.random.Generator
) -> tuple[Path, dict]:
    """Write reviews/review_history.csv; returns its path and the review truths."""
    frame, truth = review_history(quarters, as_of, rng)
    reviews_dir.mkdir(parents=True, exist_ok=True)
    path = reviews_dir / "review_history.csv"
    frame.write_csv(path)
    return path, truth
