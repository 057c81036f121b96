"""Small federation exports and a national snapshot built from them by the real pipeline.

Each city is the dashboard's fixture snapshot (tests/published_fixture.py) plus what a real build
adds for the federation (``ops.build_info``, ``marts.request_facts``, the ``consideration`` column of
``indicator_values``), with its scores scaled so that cities differ. Planted: ``Old Harbour`` was
built under scoring method 1.1 (not comparable) and exports no request facts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from published_fixture import build_published_fixture

from pipelines.federation import export_city
from pipelines.national import NationalResult, build_national
from pipelines.settings import Settings

# name, score factor, method version, exports request facts
FIXTURE_CITIES = [
    ("Northport", 1.00, "1.2", True),
    ("Southvale", 0.93, "1.2", True),
    ("Eastbrook", 1.06, "1.2", True),
    ("Old Harbour", 0.85, "1.1", False),
]
NOT_COMPARABLE_CITY = "Old Harbour"


def published_city(
    data_dir: Path, name: str = "Fixture Town", method_version: str = "1.2", factor: float = 1.0
) -> Settings:
    """A published city snapshot that ``export_city`` accepts."""
    settings = Settings(data_dir=data_dir, city_name=name)
    build_published_fixture(settings.published_path)
    with duckdb.connect(str(settings.published_path)) as con:
        con.execute(
            "create table ops.build_info as select 'b-1' as build_id, "
            "timestamp '2026-01-02 06:00' as published_at, ? as method_version",
            [method_version],
        )
        con.execute("update marts.consideration_scores set score = least(1.2, score * ?)", [factor])
        con.execute("update marts.composite_scores set score = least(1.2, score * ?)", [factor])
        con.execute("alter table marts.indicator_values add column consideration integer")
        con.execute(
            "update marts.indicator_values set consideration = cast(substr(indicator_id, 2, 1) as integer)"
        )
        con.execute(
            """
            create table marts.request_facts as
            select 'R' || i as request_id, timestamp '2025-01-01' + to_months(i % 6) as opened_at,
                   date_trunc('month', timestamp '2025-01-01' + to_months(i % 6))::date as month_start,
                   'D01' as district_code, 'S1' as service_code, 'Roads' as category,
                   'web' as channel, 'closed' as status, true as is_closed, true as is_responded,
                   i * 1.5 * ? as resolution_hours, 2.0 as response_hours, 0 as reopened_count,
                   null::boolean as fixed_confirmed, false as is_repeat, ? as method_version
            from range(60) as t(i)
            """,
            [factor, method_version],
        )
    return settings


def build_national_fixture(root: Path, data_dir: Path) -> NationalResult:
    """Export the fixture cities under ``root`` and publish the national snapshot in ``data_dir``."""
    exports = root / "exports"
    for name, factor, method, facts in FIXTURE_CITIES:
        city = published_city(root / name.lower().replace(" ", "-"), name, method, factor)
        export_city(city, exports, request_facts=facts)
    return build_national(Settings(data_dir=data_dir), exports, engine="duckdb")
