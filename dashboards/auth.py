"""Editor accounts: bcrypt hashes in a TOML file (``<data>/secrets/editors.toml``).

File format (written by :func:`add_editor`; the lead's CLI calls it)::

    [editors."alice"]
    password_hash = "$2b$12$..."
    role = "editor"
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import bcrypt

ROLES = ("editor", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
# compared against when the user does not exist, so a miss costs as much as a wrong password
_DUMMY_HASH = bcrypt.hashpw(b"civicloop-no-such-user", bcrypt.gensalt(rounds=12)).decode()


@dataclass(frozen=True)
class Editor:
    username: str
    role: str
    password_hash: str


def hash_password(password: str, rounds: int = 12) -> str:
    raw = password.encode("utf-8")
    if len(raw) > 72:
        raise ValueError("passwords longer than 72 bytes are not supported by bcrypt")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify(password: str, password_hash: str) -> bool:
    try:
        raw = password.encode("utf-8")
        if len(raw) > 72:
            return False
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except (ValueError, TypeError):
        return False


def load_editors(path: Path) -> dict[str, Editor]:
    """Editors by username; an absent file means no editors (everyone is a viewer)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    editors = {}
    for username, entry in doc.get("editors", {}).items():
        role = entry.get("role", "editor")
        hashed = entry.get("password_hash")
        if role in ROLES and isinstance(hashed, str):
            editors[username] = Editor(username, role, hashed)
    return editors


def authenticate(editors: dict[str, Editor], username: str, password: str) -> Editor | None:
    editor = editors.get(username.strip())
    if editor is None:
        verify(password, _DUMMY_HASH)
        return None
    return editor if verify(password, editor.password_hash) else None


def _dump(editors: dict[str, Editor]) -> str:
    lines = ["# civicloop dashboard editors: bcrypt hashes only. Keep this file private.", ""]
    for name in sorted(editors):
        e = editors[name]
        lines += [
            f"[editors.{json.dumps(name)}]",
            f"password_hash = {json.dumps(e.password_hash)}",
            f"role = {json.dumps(e.role)}",
            "",
        ]
    return "\n".join(lines)


def add_editor(
    path: Path, username: str, password: str, role: str = "editor", *, replace: bool = False
) -> Editor:
    """Add (or with ``replace=True`` reset) an editor; the file is rewritten atomically, mode 600."""
    path = Path(path)
    if not USERNAME_RE.match(username):
        raise ValueError("username: 1-64 characters of letters, digits, _ . @ -")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    editors = load_editors(path)
    if username in editors and not replace:
        raise ValueError(f"editor {username!r} already exists")
    editors[username] = Editor(username, role, hash_password(password))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".editors-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_dump(editors))
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return editors[username]
