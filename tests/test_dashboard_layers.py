"""The dashboard's layer rules, checked on the source."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
ALLOWED_LOCAL = {"dashboards"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_dashboards_import_only_themselves_stdlib_and_third_party() -> None:
    for path in DASHBOARDS.rglob("*.py"):
        roots = imported_roots(path)
        assert "pipelines" not in roots, path
        assert "tests" not in roots and "published_fixture" not in roots, path
        local = roots - set(sys.stdlib_module_names) - ALLOWED_LOCAL
        third_party = {
            "streamlit",
            "duckdb",
            "pandas",
            "altair",
            "bcrypt",
            "weasyprint",
            "playwright",
            "__future__",
        }
        assert local <= third_party, (path, local - third_party)


def test_pages_hold_no_sql_and_no_unsafe_html() -> None:
    sql = re.compile(r"\b(select|insert|update|delete)\b[^\n]*\b(from|into|set)\b", re.I)
    for path in (DASHBOARDS / "app_pages").glob("*.py"):
        text = path.read_text()
        assert not sql.search(text), path
        assert "duckdb" not in text and "sqlite3" not in text, path
    for path in DASHBOARDS.rglob("*.py"):
        assert "unsafe_allow_html" not in path.read_text(), path


def test_environment_read_in_one_place() -> None:
    for path in DASHBOARDS.rglob("*.py"):
        if path.name in ("config.py", "screenshots.py"):
            continue
        text = path.read_text()
        assert "CIVICLOOP_" not in text and "os.environ" not in text, path
