"""The one place the dashboard reads its environment.

``CIVICLOOP_DATA_DIR`` (default ``<repo>/data``) holds the published snapshot, the decision
register and the editors file; ``CIVICLOOP_EDITORS_FILE`` overrides the editors file and
``CIVICLOOP_CITY_NAME`` the city shown in titles and exports. Values are read on every call so
tests (and a long-running server) see changes without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    raw = os.environ.get("CIVICLOOP_DATA_DIR")
    return Path(raw).expanduser().resolve() if raw else REPO_ROOT / "data"


def published_path() -> Path:
    return data_dir() / "published" / "civicloop.duckdb"


def national_published_path() -> Path:
    """The national rollup's snapshot (``civicloop national build``), beside the city's."""
    return data_dir() / "published" / "civicloop_national.duckdb"


def build_status_path() -> Path:
    """The last build's outcome, written beside the snapshot even when it was not published."""
    return data_dir() / "published" / "build_status.json"


def decisions_path() -> Path:
    return data_dir() / "decisions" / "decisions.sqlite"


def decisions_backup_dir() -> Path:
    return data_dir() / "decisions" / "backups"


def editors_path() -> Path:
    raw = os.environ.get("CIVICLOOP_EDITORS_FILE")
    return Path(raw).expanduser().resolve() if raw else data_dir() / "secrets" / "editors.toml"


def city_name() -> str:
    return os.environ.get("CIVICLOOP_CITY_NAME", "Sample City")
