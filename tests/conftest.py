"""Shared fixtures: the real public files in ../shared and a built sample city."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_REAL = PROJECT_ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """../shared/data/real, or a skip that says why (the project must pass without it)."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"real public sample files not present at {SHARED_REAL}")
    return SHARED_REAL
