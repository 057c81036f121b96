"""Shared fixtures: the real public files in ../shared and a built sample city."""

from __future__ import annotations

import sys
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Streamlit's AppTest leaves the page it ran installed as ``__main__``, and multiprocessing's
    spawn re-runs ``__main__``'s file in every child: a later test's reader process would run a
    dashboard page (and fail on a missing snapshot) instead of its target."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
