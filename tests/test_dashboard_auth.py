"""Editor accounts: bcrypt hashing, the TOML file, authentication."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import auth  # noqa: E402


def test_hash_and_verify() -> None:
    hashed = auth.hash_password("correct horse battery", rounds=4)
    assert hashed.startswith("$2") and "correct" not in hashed
    assert auth.verify("correct horse battery", hashed)
    assert not auth.verify("wrong horse battery", hashed)
    assert not auth.verify("anything", "not-a-hash")
    with pytest.raises(ValueError):
        auth.hash_password("x" * 73)


def test_add_load_authenticate(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "editors.toml"
    assert auth.load_editors(path) == {}
    auth.add_editor(path, "alice", "s3cret-password-1", "admin")
    auth.add_editor(path, "bob.smith", "another-password", "editor")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cret" not in text and "another-password" not in text
    editors = auth.load_editors(path)
    assert {e.username: e.role for e in editors.values()} == {"alice": "admin", "bob.smith": "editor"}
    assert auth.authenticate(editors, "alice", "s3cret-password-1").role == "admin"
    assert auth.authenticate(editors, "alice", "another-password") is None
    assert auth.authenticate(editors, "nobody", "s3cret-password-1") is None


def test_add_editor_refuses_bad_input_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "editors.toml"
    auth.add_editor(path, "alice", "s3cret-password-1")
    with pytest.raises(ValueError, match="exists"):
        auth.add_editor(path, "alice", "other-password-2")
    auth.add_editor(path, "alice", "other-password-2", replace=True)
    assert auth.authenticate(auth.load_editors(path), "alice", "other-password-2")
    for name, pw, role in [
        ('bad"name', "long-enough-pw", "editor"),
        ("ok", "short", "editor"),
        ("ok", "long-enough-pw", "root"),
    ]:
        with pytest.raises(ValueError):
            auth.add_editor(path, name, pw, role)
