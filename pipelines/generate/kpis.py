"""Monthly agency KPIs with targets: trends that improve over the period, plus noise."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate.city import AGENCIES


@dataclass(frozen=True)
class Kpi:
    """A KPI's trajectory: actual = start + gain * t + noise; target steps up each year."""

    kpi_id: str
    kpi_name: str
    unit: str
    desired_change: str
    start: float
    gain: float
    noise: float
    targets_by_year: tuple[float, float]
    decimals: int = 3


COMMON_KPIS: tuple[Kpi, ...] = (
    Kpi(
        "digital_takeup",
        "Share of transactions completed online",
        "share",
        "U",
        0.42,
        0.22,
        0.015,
        (0.55, 0.65),
    ),
    Kpi(
        "completion_rate",
        "Share of transactions completed without hand-off",
        "share",
        "U",
        0.84,
        0.06,
        0.012,
        (0.88, 0.90),
    ),
    Kpi("cost_per_transaction", "Cost per transaction", "USD", "D", 14.5, -3.5, 0.4, (12.5, 11.0), 2),
    Kpi(
        "staff_trained_share", "Staff trained in digital skills", "share", "U", 0.25, 0.45, 0.01, (0.45, 0.65)
    ),
    Kpi(
        "data_sharing_agreements",
        "Data-sharing agreements in force",
        "count",
        "U",
        1.0,
        7.0,
        0.0,
        (4.0, 8.0),
        0,
    ),
)
DTO_KPIS: tuple[Kpi, ...] = (
    Kpi(
        "referrals_resolved_share",
        "Cross-agency referrals resolved",
        "share",
        "U",
        0.62,
        0.2,
        0.02,
        (0.75, 0.85),
    ),
)
DTO_PLANNED_HEADCOUNT_START = 12
DTO_PLANNED_HEADCOUNT_PER_QUARTER = 2


def months(start: datetime.date, count: int) -> list[datetime.date]:
    """First days of ``count`` months starting with ``start``'s month."""
    return [
        datetime.date(start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1, 1)
        for m in range(count)
    ]


def kpi_rows(
    agency: str, kpi: Kpi, period: list[datetime.date], rng: np.random.Generator, agency_offset: float
) -> pl.DataFrame:
    """One agency's monthly values for one KPI."""
    t = np.linspace(0, 1, len(period))
    actual = kpi.start * (1 + agency_offset) + kpi.gain * t + rng.normal(0, kpi.noise, t.size)
    if kpi.unit == "share":
        actual = np.clip(actual, 0, 1)
    year_index = np.array([min(m.year - period[0].year, 1) for m in period])
    return pl.DataFrame(
        {
            "agency": agency,
            "kpi_id": kpi.kpi_id,
            "kpi_name": kpi.kpi_name,
            "period": [m.strftime("%Y-%m") for m in period],
            "actual": np.round(np.maximum(actual, 0), kpi.decimals),
            "target": np.asarray(kpi.targets_by_year)[year_index],
            "desired_change": kpi.desired_change,
            "unit": kpi.unit,
        }
    )


def headcount_rows(period: list[datetime.date], rng: np.random.Generator) -> pl.DataFrame:
    """DTO digital headcount against plan: hiring lags the plan by 0-3 posts."""
    quarter_index = np.arange(len(period)) // 3
    plan = DTO_PLANNED_HEADCOUNT_START + DTO_PLANNED_HEADCOUNT_PER_QUARTER * quarter_index
    actual = plan - rng.integers(0, 4, len(period))
    return pl.DataFrame(
        {
            "agency": "DTO",
            "kpi_id": "dto_headcount",
            "kpi_name": "Digital office headcount",
            "period": [m.strftime("%Y-%m") for m in period],
            "actual": actual.astype(float),
            "target": plan.astype(float),
            "desired_change": "U",
            "unit": "FTE",
        }
    )


def write_kpis(kpi_dir: Path, start: datetime.date, month_count: int, rng: np.random.Generator) -> list[Path]:
    """Write one kpis_<YYYY-MM>.csv per month (all agencies, all KPIs)."""
    period = months(start, month_count)
    frames: list[pl.DataFrame] = []
    for agency_index, agency in enumerate(AGENCIES):
        offset = (agency_index - 2.5) * 0.04
        kpis = COMMON_KPIS + (DTO_KPIS if agency == "DTO" else ())
        frames.extend(kpi_rows(agency, kpi, period, rng, offset) for kpi in kpis)
    frames.append(headcount_rows(period, rng))
    every_month = pl.concat(frames)
    kpi_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for month in period:
        label = month.strftime("%Y-%m")
        path = kpi_dir / f"kpis_{label}.csv"
        every_month.filter(pl.col("period") == label).write_csv(path)
        written.append(path)
    return written
