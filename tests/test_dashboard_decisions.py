"""The decision register: append-only, corrections, audit, backups, concurrent writers."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import sqlite3
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards.agenda import build_agenda  # noqa: E402
from dashboards.decisions import DecisionError, DecisionRegister, Entry  # noqa: E402


def keep(indicator: str = "C1_01", rationale: str = "on track") -> Entry:
    return Entry("2025Q4", indicator, "keep_target", rationale)


def test_record_and_read_back(tmp_path: Path) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite")
    eid = reg.record(
        Entry(
            "2025Q4", "C1_03", "revise_target", "tighten", new_target=7.5, effective_from=dt.date(2026, 1, 1)
        ),
        "alice",
    )
    rows = reg.entries("2025Q4")
    assert list(rows["entry_id"]) == [eid]
    row = rows.iloc[0]
    assert row["new_target"] == 7.5 and row["effective_from"] == "2026-01-01"
    assert row["recorded_by"] == "alice" and row["corrects_entry_id"] is None


@pytest.mark.parametrize(
    "entry",
    [
        Entry("2025Q4", "C1_01", "revise_target", "no value"),
        Entry("2025Q4", "C1_01", "add_action", "no owner", action_text="x", action_due=dt.date(2026, 1, 1)),
        Entry("2025Q4", "C1_01", "keep_target", "   "),
        Entry("2025-Q4", "C1_01", "keep_target", "bad quarter"),
        Entry("2025Q4", "C1_01", "delete_everything", "unknown decision"),
    ],
)
def test_invalid_entries_are_refused_and_not_written(tmp_path: Path, entry: Entry) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite")
    with pytest.raises(DecisionError):
        reg.record(entry, "alice")
    assert reg.entries().empty and reg.audit_log().empty


def test_append_only_update_and_delete_are_refused(tmp_path: Path) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite")
    reg.record(keep(), "alice")
    con = sqlite3.connect(reg.path)
    for sql in (
        "update decisions set rationale = 'changed'",
        "delete from decisions",
        "update audit_log set actor = 'mallory'",
        "delete from audit_log",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()
    assert reg.entries().iloc[0]["rationale"] == "on track"


def test_correction_is_a_new_entry_and_supersedes(tmp_path: Path) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite")
    first = reg.record(keep(), "alice")
    second = reg.correct(
        first,
        Entry(
            "2025Q4",
            "C1_01",
            "add_action",
            "needs work",
            action_text="Audit the queue",
            action_owner="Ops lead",
            action_due=dt.date(2025, 11, 1),
        ),
        "bob",
    )
    everything = reg.entries()
    assert list(everything["entry_id"]) == [first, second]
    assert everything.iloc[1]["corrects_entry_id"] == first
    assert list(reg.current()["entry_id"]) == [second]
    acts = reg.actions(today=dt.date(2025, 12, 1))
    assert list(acts["is_overdue"]) == [True]
    with pytest.raises(DecisionError, match="no entry"):
        reg.correct("no-such-id", keep(), "bob")


def test_every_write_is_audited(tmp_path: Path) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite")
    first = reg.record(keep(), "alice")
    reg.correct(first, keep(rationale="second thoughts"), "bob")
    reg.set_setting("large_move_points", 5, "carol")
    log = reg.audit_log()
    assert list(log["action"]) == ["record_decision", "correct_decision", "set_review_setting"]
    assert list(log["actor"]) == ["alice", "bob", "carol"]
    assert first in log.iloc[0]["detail"]
    assert reg.settings()["large_move_points"] == 5.0
    with pytest.raises(DecisionError):
        reg.set_setting("large_move_points", -1, "carol")
    with pytest.raises(DecisionError):
        reg.set_setting("no_such_setting", 1, "carol")


def test_backup_after_every_write_keeps_last_n(tmp_path: Path) -> None:
    reg = DecisionRegister(tmp_path / "d.sqlite", backup_dir=tmp_path / "bk", keep=3)
    ids = [reg.record(keep(rationale=f"r{i}"), "alice") for i in range(5)]
    backups = sorted((tmp_path / "bk").glob("decisions-*.sqlite"))
    assert len(backups) == 3
    con = sqlite3.connect(backups[-1])
    assert {r[0] for r in con.execute("select entry_id from decisions")} == set(ids)
    con.close()


def _writer(path: str, worker: int, count: int) -> None:
    reg = DecisionRegister(Path(path))
    for i in range(count):
        reg.record(Entry("2025Q4", f"C{worker}_{i:02d}", "keep_target", f"w{worker} #{i}"), f"editor{worker}")


def test_two_processes_writing_concurrently_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AppTest runs page scripts as ``__main__``; a spawned child would re-run the last one.
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    path = tmp_path / "d.sqlite"
    DecisionRegister(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 25)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    reg = DecisionRegister(path)
    entries = reg.entries()
    assert len(entries) == 50 and entries["entry_id"].is_unique
    assert sorted(entries["recorded_by"].value_counts()) == [25, 25]
    assert len(reg.audit_log()) == 50


def test_agenda_triggers_follow_settings() -> None:
    import pandas as pd

    hist = pd.DataFrame(
        {
            "indicator_id": ["A", "A", "B", "B"],
            "name": ["a", "a", "b", "b"],
            "consideration": [1, 1, 2, 2],
            "period_start": pd.to_datetime(["2025-07-01", "2025-10-01"] * 2),
            "score": [0.8, 0.82, 0.9, 1.05],
            "status": ["red", "red", "amber", "green"],
        }
    )
    fresh = pd.DataFrame(
        {
            "source": ["survey"],
            "is_stale": [True],
            "latest_data_at": [pd.Timestamp("2025-06-30")],
            "expected_cadence_days": [92],
        }
    )
    actions = pd.DataFrame(
        {
            "indicator_id": ["B"],
            "action_text": ["x"],
            "action_owner": ["o"],
            "action_due": [dt.date(2025, 9, 1)],
            "action_status": ["open"],
            "is_overdue": [True],
        }
    )
    settings = {
        "trigger_red_two_quarters": True,
        "trigger_large_move": True,
        "large_move_points": 10.0,
        "trigger_stale_data": True,
        "trigger_action_overdue": True,
    }
    agenda = build_agenda(dt.date(2025, 10, 1), hist, fresh, actions, settings)
    assert list(agenda["trigger"]) == ["red_two_quarters", "large_move", "stale_data", "action_overdue"]
    assert list(agenda["indicator_id"]) == ["A", "B", "source:survey", "B"]
    settings.update(large_move_points=20.0, trigger_stale_data=False)
    agenda = build_agenda(dt.date(2025, 10, 1), hist, fresh, actions, settings)
    assert list(agenda["trigger"]) == ["red_two_quarters", "action_overdue"]
