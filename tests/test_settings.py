"""Settings: one object, secrets only from the environment, production refuses the demo key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import DEVELOPMENT_PSEUDONYM_KEY, MissingSecretError, Settings


def test_paths_derive_from_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.warehouse_path == tmp_path / "warehouse" / "civicloop.duckdb"
    assert settings.published_path == tmp_path / "published" / "civicloop.duckdb"
    assert settings.decisions_path == tmp_path / "decisions" / "decisions.sqlite"
    assert settings.inbox_dir("feedback") == tmp_path / "inbox" / "feedback"


def test_demo_mode_uses_the_marked_development_key(tmp_path: Path) -> None:
    key = Settings(data_dir=tmp_path, mode="demo").pseudonym_key_bytes()
    assert key == DEVELOPMENT_PSEUDONYM_KEY.encode()
    assert b"DEVELOPMENT" in key


def test_production_mode_requires_a_real_key(tmp_path: Path) -> None:
    with pytest.raises(MissingSecretError, match="CIVICLOOP_PSEUDONYM_KEY"):
        Settings(data_dir=tmp_path, mode="production").pseudonym_key_bytes()
    configured = Settings(data_dir=tmp_path, mode="production", pseudonym_key="k" * 40)
    assert configured.pseudonym_key_bytes() == b"k" * 40


def test_the_cli_stops_at_startup_in_production_without_a_key(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "CIVICLOOP_PSEUDONYM_KEY"} | {
        "CIVICLOOP_MODE": "production",
        "CIVICLOOP_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "build", "--no-docs"],
        env=env,
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "CIVICLOOP_PSEUDONYM_KEY is not set" in result.stdout
    assert not (tmp_path / "warehouse").exists()  # nothing was started
