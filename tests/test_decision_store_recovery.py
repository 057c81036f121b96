"""Issue 8: the decision register can be restored from its backups after corruption or deletion.

``dashboards/decisions.py`` copies the sqlite file to ``backups/`` after every committed write.
``dashboards.decisions.restore_register`` is the restore procedure (``civicloop decisions restore``):

1. stop the dashboard (no writer may hold the file);
2. move the damaged ``decisions.sqlite`` and its ``-wal``/``-shm`` aside (never copy a backup next to
   a stale WAL: sqlite could replay it onto the restored file);
3. copy the newest backup that passes ``pragma integrity_check`` into place with the backup API;
4. because the register is append-only with uuid ``entry_id`` keys, add every entry (and audit row)
   that an *older* intact backup has and the chosen one lacks. This matters after a deletion: the
   dashboard then silently creates an empty register, and its next write makes a near-empty backup
   the newest one.

What is lost: exactly the writes committed after the newest backup was taken. Normally none, since
each write is backed up right after its commit; a write is lost when the process dies, or the
backup fails, between the commit and the copy (the test shows both the entry and the error the
caller got), and any write made to an already-damaged file that no backup holds.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:  # dashboards/ is a folder of the repo, not an installed package
    sys.path.insert(0, str(PROJECT_ROOT))
from dashboards.decisions import DecisionRegister, Entry, restore_register

ACTOR = "analyst.one"


def _entry(n: int) -> Entry:
    return Entry(
        review_quarter="2025Q1", indicator_id=f"c1_ind_{n}", decision="keep_target", rationale=f"r{n}"
    )


@pytest.fixture
def register(tmp_path: Path) -> DecisionRegister:
    return DecisionRegister(tmp_path / "decisions" / "decisions.sqlite")


def _ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return [row[0] for row in con.execute("select entry_id from decisions order by recorded_at, rowid")]


def test_every_write_is_followed_by_a_backup_holding_it(register: DecisionRegister) -> None:
    ids = [register.record(_entry(n), ACTOR) for n in range(3)]
    register.set_setting("large_move_points", 12.0, ACTOR)
    backups = sorted(register.backup_dir.glob("decisions-*.sqlite"))
    assert len(backups) == 4
    assert _ids(backups[-1]) == ids
    assert [len(_ids(backup)) for backup in backups] == [1, 2, 3, 3]


def test_a_corrupted_register_is_restored_from_the_newest_backup(register: DecisionRegister) -> None:
    ids = [register.record(_entry(n), ACTOR) for n in range(4)]
    with register.path.open("r+b") as handle:  # clobber the header and the first pages
        handle.write(b"\x00garbage" * 1024)
    with pytest.raises(sqlite3.DatabaseError):
        DecisionRegister(register.path)  # the dashboard cannot open it: nothing is overwritten
    report = restore_register(register.path, register.backup_dir)
    assert report["merged_entries"] == 0
    restored = DecisionRegister(register.path)
    assert restored.entries()["entry_id"].tolist() == ids
    assert len(restored.audit_log()) == 4
    new = restored.record(_entry(9), ACTOR)  # and it takes writes again, append-only as before
    assert restored.entries()["entry_id"].tolist() == [*ids, new]
    assert list(register.path.parent.glob("decisions.sqlite.damaged-*"))  # kept for forensics


def test_a_deleted_register_comes_back_even_after_the_dashboard_wrote_to_an_empty_one(
    register: DecisionRegister,
) -> None:
    ids = [register.record(_entry(n), ACTOR) for n in range(3)]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{register.path}{suffix}").unlink(missing_ok=True)
    # The dashboard does not notice: it creates an empty register and the next write backs it up.
    reopened = DecisionRegister(register.path)
    assert reopened.entries().empty
    late = reopened.record(_entry(7), ACTOR)
    newest = sorted(register.backup_dir.glob("decisions-*.sqlite"))[-1]
    assert _ids(newest) == [late]  # restoring "the newest backup" alone would lose all three
    report = restore_register(register.path, register.backup_dir)
    assert report["merged_entries"] == 3
    assert sorted(DecisionRegister(register.path).entries()["entry_id"]) == sorted([*ids, late])


def test_what_is_lost_is_the_write_whose_backup_did_not_happen(
    register: DecisionRegister, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = register.record(_entry(1), ACTOR)

    def no_space(self: DecisionRegister) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DecisionRegister, "backup", no_space)
    with pytest.raises(OSError):
        register.record(_entry(2), ACTOR)  # the caller sees an error...
    committed = register.entries()["entry_id"].tolist()
    assert len(committed) == 2  # ...although the entry was committed (a retry would duplicate it)
    monkeypatch.undo()
    register.path.write_bytes(b"not a database")
    restore_register(register.path, register.backup_dir)
    assert DecisionRegister(register.path).entries()["entry_id"].tolist() == [kept]  # entry 2 is lost
