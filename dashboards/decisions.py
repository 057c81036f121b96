"""The quarterly-review decision register (``<data>/decisions/decisions.sqlite``).

* ``decisions`` and ``audit_log`` are append-only: triggers refuse UPDATE and DELETE; a
  correction is a new entry whose ``corrects_entry_id`` names the entry it replaces.
* Every write is one ``BEGIN IMMEDIATE`` transaction that also appends to ``audit_log``; the
  database runs in WAL mode with a busy timeout, so concurrent editors queue instead of losing
  entries.
* After every write the file is copied with the sqlite backup API to ``backups/``; the newest
  ``KEEP_BACKUPS`` copies are kept.
* ``review_settings`` holds the agenda trigger thresholds the office can change.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DECISIONS = ("keep_target", "revise_target", "add_action", "retire_indicator")
ACTION_STATUSES = ("open", "done")
KEEP_BACKUPS = 50
BUSY_TIMEOUT_MS = 30_000
QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")

COLUMNS = (
    "entry_id",
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
    "action_completed_on",
    "rationale",
    "corrects_entry_id",
)


@dataclass(frozen=True)
class Setting:
    key: str
    default: float | bool
    label: str


SETTINGS: tuple[Setting, ...] = (
    Setting("trigger_red_two_quarters", True, "Indicator red two quarters running"),
    Setting("trigger_large_move", True, "Indicator moved by more than the threshold"),
    Setting("large_move_points", 10.0, "Large move threshold (score points)"),
    Setting("trigger_stale_data", True, "A source is stale"),
    Setting("trigger_action_overdue", True, "A review action is past due"),
)

SCHEMA = """
create table if not exists decisions (
    entry_id text primary key,
    recorded_at text not null,
    recorded_by text not null,
    review_quarter text not null,
    indicator_id text not null,
    decision text not null check (decision in
        ('keep_target', 'revise_target', 'add_action', 'retire_indicator')),
    new_target real,
    effective_from text,
    action_text text,
    action_owner text,
    action_due text,
    action_status text check (action_status is null or action_status in ('open', 'done')),
    action_completed_on text,
    rationale text not null,
    corrects_entry_id text references decisions(entry_id)
);
create table if not exists audit_log (
    id integer primary key autoincrement,
    at text not null,
    actor text not null,
    action text not null,
    detail text not null
);
create table if not exists review_settings (
    key text primary key,
    value text not null,
    updated_at text not null,
    updated_by text not null
);
create trigger if not exists decisions_no_update before update on decisions
begin select raise(abort, 'decisions is append-only: record a correction instead'); end;
create trigger if not exists decisions_no_delete before delete on decisions
begin select raise(abort, 'decisions is append-only: record a correction instead'); end;
create trigger if not exists audit_no_update before update on audit_log
begin select raise(abort, 'audit_log is append-only'); end;
create trigger if not exists audit_no_delete before delete on audit_log
begin select raise(abort, 'audit_log is append-only'); end;
"""


class DecisionError(ValueError):
    """An entry that the register refuses (missing field, unknown decision, bad correction)."""


@dataclass
class Entry:
    """What an editor records for one agenda item."""

    review_quarter: str
    indicator_id: str
    decision: str
    rationale: str
    new_target: float | None = None
    effective_from: dt.date | None = None
    action_text: str | None = None
    action_owner: str | None = None
    action_due: dt.date | None = None
    action_status: str | None = None
    action_completed_on: dt.date | None = None
    corrects_entry_id: str | None = None
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        if not QUARTER_RE.match(self.review_quarter or ""):
            raise DecisionError(f"review_quarter must look like 2025Q4, got {self.review_quarter!r}")
        if not (self.indicator_id or "").strip():
            raise DecisionError("indicator_id is required")
        if self.decision not in DECISIONS:
            raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}")
        if not (self.rationale or "").strip():
            raise DecisionError("a rationale is required")
        if self.decision == "revise_target":
            if self.new_target is None or self.effective_from is None:
                raise DecisionError("revise_target needs new_target and effective_from")
        if self.decision == "add_action":
            if not (self.action_text or "").strip() or not (self.action_owner or "").strip():
                raise DecisionError("add_action needs action_text and action_owner")
            if self.action_due is None:
                raise DecisionError("add_action needs action_due")
            if self.action_status is None:
                self.action_status = "open"
        if self.action_status is not None and self.action_status not in ACTION_STATUSES:
            raise DecisionError("action_status must be open or done")
        if self.action_status == "done" and self.action_completed_on is None:
            raise DecisionError("a done action needs action_completed_on")


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


class DecisionRegister:
    """The register at ``path``; backups go to ``backup_dir`` (default ``<path dir>/backups``)."""

    def __init__(self, path: Path, backup_dir: Path | None = None, keep: int = KEEP_BACKUPS):
        self.path = Path(path)
        self.backup_dir = Path(backup_dir) if backup_dir else self.path.parent / "backups"
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("pragma journal_mode=wal")
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.execute(f"pragma busy_timeout={BUSY_TIMEOUT_MS}")
            con.execute("pragma foreign_keys=on")
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self, actor: str, action: str, detail: dict) -> Iterator[sqlite3.Connection]:
        """One write transaction plus its audit row; backup after commit."""
        if not (actor or "").strip():
            raise DecisionError("an actor is required for every write")
        with self._connect() as con:
            con.execute("begin immediate")
            try:
                yield con
                con.execute(
                    "insert into audit_log (at, actor, action, detail) values (?, ?, ?, ?)",
                    (
                        dt.datetime.now().isoformat(timespec="seconds"),
                        actor,
                        action,
                        json.dumps(detail, default=str, sort_keys=True),
                    ),
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        self.backup()

    # --- writes ---------------------------------------------------------------------------

    def record(self, entry: Entry, actor: str) -> str:
        """Append ``entry`` (validated) and return its new ``entry_id``."""
        entry.validate()
        entry_id = str(uuid.uuid4())
        row = {
            "entry_id": entry_id,
            "recorded_at": dt.datetime.now().isoformat(timespec="seconds"),
            "recorded_by": actor,
            "review_quarter": entry.review_quarter,
            "indicator_id": entry.indicator_id.strip(),
            "decision": entry.decision,
            "new_target": entry.new_target,
            "effective_from": _iso(entry.effective_from),
            "action_text": entry.action_text,
            "action_owner": entry.action_owner,
            "action_due": _iso(entry.action_due),
            "action_status": entry.action_status,
            "action_completed_on": _iso(entry.action_completed_on),
            "rationale": entry.rationale.strip(),
            "corrects_entry_id": entry.corrects_entry_id,
        }
        action = "correct_decision" if entry.corrects_entry_id else "record_decision"
        with self._write(actor, action, row) as con:
            if entry.corrects_entry_id is not None:
                found = con.execute(
                    "select 1 from decisions where entry_id = ?", (entry.corrects_entry_id,)
                ).fetchone()
                if not found:
                    raise DecisionError(f"no entry {entry.corrects_entry_id} to correct")
            con.execute(
                f"insert into decisions ({', '.join(COLUMNS)}) "  # column names are constants
                f"values ({', '.join('?' for _ in COLUMNS)})",
                tuple(row[c] for c in COLUMNS),
            )
        return entry_id

    def correct(self, entry_id: str, entry: Entry, actor: str) -> str:
        """Record ``entry`` as the correction of ``entry_id`` (the original stays)."""
        entry.corrects_entry_id = entry_id
        return self.record(entry, actor)

    def set_setting(self, key: str, value: float | bool, actor: str) -> None:
        known = {s.key: s for s in SETTINGS}
        if key not in known:
            raise DecisionError(f"unknown setting {key!r}")
        if isinstance(known[key].default, bool):
            value = bool(value)
        else:
            value = float(value)
            if value < 0:
                raise DecisionError("thresholds must not be negative")
        old = self.settings()[key]
        with self._write(actor, "set_review_setting", {"key": key, "old": old, "new": value}) as con:
            con.execute(
                "insert into review_settings (key, value, updated_at, updated_by) "
                "values (?, ?, ?, ?) on conflict(key) do update set value = excluded.value, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (key, json.dumps(value), dt.datetime.now().isoformat(timespec="seconds"), actor),
            )

    # --- reads ----------------------------------------------------------------------------

    def settings(self) -> dict[str, float | bool]:
        values: dict[str, float | bool] = {s.key: s.default for s in SETTINGS}
        with self._connect() as con:
            for key, value in con.execute("select key, value from review_settings"):
                if key in values:
                    values[key] = json.loads(value)
        return values

    def entries(self, review_quarter: str | None = None) -> pd.DataFrame:
        """Every entry (corrections included), oldest first."""
        with self._connect() as con:
            df = pd.read_sql_query(
                f"select {', '.join(COLUMNS)} from decisions "
                "where ? is null or review_quarter = ? order by recorded_at, rowid",
                con,
                params=(review_quarter, review_quarter),
            )
        return df

    def current(self, review_quarter: str | None = None) -> pd.DataFrame:
        """Entries in force: those no later entry corrects (following chains of corrections)."""
        every = self.entries()
        corrected = set(every["corrects_entry_id"].dropna())
        live = every[~every["entry_id"].isin(corrected)]
        if review_quarter is not None:
            live = live[live["review_quarter"] == review_quarter]
        return live.reset_index(drop=True)

    def actions(self, today: dt.date | None = None) -> pd.DataFrame:
        """Current actions with an ``is_overdue`` flag."""
        today = today or dt.date.today()
        live = self.current()
        acts = live[live["action_text"].notna()].copy()
        due = pd.to_datetime(acts["action_due"]).dt.date
        acts["is_overdue"] = (acts["action_status"] == "open") & (due < today)
        return acts.reset_index(drop=True)

    def audit_log(self) -> pd.DataFrame:
        with self._connect() as con:
            return pd.read_sql_query("select at, actor, action, detail from audit_log order by id", con)

    # --- backups --------------------------------------------------------------------------

    def backup(self) -> Path:
        """Copy the register with the sqlite backup API; keep the newest ``keep`` copies."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
        target = self.backup_dir / f"decisions-{stamp}-{uuid.uuid4().hex[:8]}.sqlite"
        with self._connect() as src:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        backups = sorted(self.backup_dir.glob("decisions-*.sqlite"))
        for old in backups[: max(0, len(backups) - self.keep)]:
            old.unlink(missing_ok=True)
        return target


def _intact(path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            return con.execute("pragma integrity_check").fetchone()[0] == "ok" and bool(
                con.execute("select count(*) from sqlite_master where name = 'decisions'").fetchone()[0]
            )
    except sqlite3.DatabaseError:
        return False


def restore_register(path: Path, backup_dir: Path) -> dict[str, object]:
    """Restore the register at ``path`` from the newest intact backup in ``backup_dir``.

    Stop the dashboard first. The damaged file and its -wal/-shm are moved aside (never deleted),
    the newest backup that passes ``integrity_check`` is copied in with sqlite's backup API, and
    entries (and audit rows) that only older backups hold are added back: the register is
    append-only with uuid keys, so nothing is duplicated. Lost are only writes committed after the
    newest backup was taken (normally none: every write is backed up right after its commit).
    """
    backups = sorted(backup_dir.glob("decisions-*.sqlite"), reverse=True)  # names sort by time
    intact = [backup for backup in backups if _intact(backup)]
    if not intact:
        raise RuntimeError(f"no intact backup in {backup_dir}")
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        damaged = Path(f"{path}{suffix}")
        if damaged.exists():
            damaged.rename(damaged.with_name(f"{damaged.name}.damaged-{stamp}"))
    with sqlite3.connect(intact[0]) as source, sqlite3.connect(path) as target:
        source.backup(target)
    merged = 0
    with sqlite3.connect(path, isolation_level=None) as con:
        con.execute("begin immediate")
        for older in intact[1:]:
            con.execute("attach database ? as old", (f"file:{older}?mode=ro",))
            # Oldest first, so that a correction never precedes the entry it corrects.
            columns = ", ".join(COLUMNS)
            merged += con.execute(
                f"insert into decisions ({columns}) select {columns} from old.decisions "
                "where entry_id not in (select entry_id from main.decisions) order by recorded_at, rowid"
            ).rowcount
            con.execute(
                "insert into audit_log (at, actor, action, detail) select at, actor, action, detail "
                "from old.audit_log o where not exists (select 1 from main.audit_log a where a.at = o.at "
                "and a.actor = o.actor and a.action = o.action and a.detail = o.detail) order by o.id"
            )
            con.execute("commit")
            con.execute("detach database old")
            con.execute("begin immediate")
        con.execute("commit")
    return {"from": intact[0].name, "merged_entries": merged, "skipped_damaged": len(backups) - len(intact)}
