"""The fixed reference city: districts, census population, services, agencies and boundaries.

The city itself does not depend on the seed (a seed only changes what residents do in it), so the
reference files of two cities generated with different seeds are identical and
``generate_feedback_day`` can add a day to an existing city without reading it back.

Planted roles (see ``pipelines.generate`` for the full list of truths):

- ``LOW_ACCESS_DISTRICT`` has a broadband rate of 0.55 against 0.84-0.95 elsewhere;
- ``SLOW_DISTRICT`` resolves every service type ``SLOW_DISTRICT_FACTOR`` times slower;
- ``UNDER_REPORTING_DISTRICT`` reports problems at ``UNDER_REPORTING_PROPENSITY`` of the usual
  per-capita rate although its residents report the most problems in the survey;
- ``SURVEY_OVERSAMPLED_DISTRICT`` is over-represented in the survey sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

AGE_BANDS: tuple[str, ...] = ("18-34", "35-54", "55-74", "75+")
SEXES: tuple[str, ...] = ("F", "M")
# One census cell per (age band, sex), in this order everywhere: index = age_index * 2 + sex_index.
CELLS: tuple[tuple[str, str], ...] = tuple((age, sex) for age in AGE_BANDS for sex in SEXES)

CITY_TIMEZONE = "America/Chicago"
LOW_ACCESS_DISTRICT = "D04"
SLOW_DISTRICT = "D07"
SLOW_DISTRICT_FACTOR = 2.5
UNDER_REPORTING_DISTRICT = "D10"
UNDER_REPORTING_PROPENSITY = 0.3
SURVEY_OVERSAMPLED_DISTRICT = "D02"

# Bounding box of the fictional city (central Illinois farmland, so nothing real is implied).
WEST, SOUTH, EAST, NORTH = -89.72, 39.98, -89.54, 40.07
GRID_COLUMNS, GRID_ROWS = 4, 3


@dataclass(frozen=True)
class District:
    """One district of the city and its census profile."""

    code: str
    name: str
    digital_access_rate: float
    adults: int
    # Share of adults in each age band (sums to 1); older districts skew to the right.
    age_shares: tuple[float, float, float, float]
    # Reporting propensity relative to the city: per-capita 311 volume multiplier.
    report_propensity: float
    zipcode: str


DISTRICTS: tuple[District, ...] = (
    District("D01", "North End", 0.92, 38_400, (0.38, 0.33, 0.21, 0.08), 1.05, "62701"),
    District("D02", "Riverside", 0.90, 42_100, (0.22, 0.31, 0.32, 0.15), 0.95, "62702"),
    District("D03", "Old Town", 0.88, 27_900, (0.30, 0.32, 0.26, 0.12), 1.10, "62703"),
    District("D04", "Eastfield", 0.55, 33_600, (0.24, 0.30, 0.30, 0.16), 0.90, "62704"),
    District("D05", "Harbor View", 0.94, 51_200, (0.41, 0.34, 0.18, 0.07), 1.00, "62705"),
    District("D06", "Millbrook", 0.86, 24_800, (0.27, 0.33, 0.28, 0.12), 0.95, "62706"),
    District("D07", "Southgate", 0.89, 36_300, (0.31, 0.34, 0.25, 0.10), 1.00, "62707"),
    District("D08", "West Park", 0.95, 45_700, (0.35, 0.36, 0.21, 0.08), 1.05, "62708"),
    District("D09", "Cedar Hill", 0.87, 29_500, (0.26, 0.31, 0.29, 0.14), 0.90, "62709"),
    District("D10", "Lakeshore", 0.84, 31_900, (0.33, 0.33, 0.24, 0.10), UNDER_REPORTING_PROPENSITY, "62710"),
    District("D11", "University", 0.93, 40_600, (0.52, 0.26, 0.15, 0.07), 1.15, "62711"),
    District("D12", "Fairview", 0.85, 22_300, (0.20, 0.30, 0.33, 0.17), 0.85, "62712"),
)
DISTRICT_CODES: tuple[str, ...] = tuple(d.code for d in DISTRICTS)

# Women outnumber men more with each age band (higher life expectancy).
FEMALE_SHARE_BY_AGE: tuple[float, ...] = (0.49, 0.50, 0.52, 0.58)


@dataclass(frozen=True)
class Service:
    """A 311 service type."""

    code: str
    name: str
    category: str
    agency: str
    sla_days: int
    # Relative request volume across the city.
    volume_weight: float
    # Median resolution time outside the slow district, in days.
    median_resolution_days: float


AGENCIES: dict[str, str] = {
    "PW": "Public Works",
    "TR": "Transportation",
    "ENV": "Environmental Services",
    "PRK": "Parks and Recreation",
    "HSG": "Housing and Buildings",
    "DTO": "Digital Transformation Office",
}

SERVICES: tuple[Service, ...] = (
    Service("POT", "Pothole", "Streets", "PW", 5, 9.0, 3.0),
    Service("SLT", "Streetlight out", "Streets", "PW", 7, 7.0, 4.0),
    Service("SDW", "Sidewalk repair", "Streets", "PW", 30, 3.0, 18.0),
    Service("SNW", "Snow and ice removal", "Streets", "PW", 2, 2.0, 1.0),
    Service("TSG", "Traffic signal malfunction", "Transport", "TR", 2, 2.5, 0.8),
    Service("PKE", "Parking enforcement", "Transport", "TR", 1, 6.0, 0.4),
    Service("ABV", "Abandoned vehicle", "Transport", "TR", 10, 4.0, 6.0),
    Service("BUS", "Bus stop damage", "Transport", "TR", 14, 1.5, 8.0),
    Service("MWC", "Missed waste collection", "Sanitation", "ENV", 2, 10.0, 1.2),
    Service("ILD", "Illegal dumping", "Sanitation", "ENV", 5, 6.0, 3.0),
    Service("GRF", "Graffiti removal", "Sanitation", "ENV", 7, 4.0, 4.5),
    Service("NOI", "Noise complaint", "Environment", "ENV", 3, 7.0, 1.5),
    Service("TRE", "Tree maintenance", "Parks", "PRK", 21, 4.0, 12.0),
    Service("PKM", "Park maintenance", "Parks", "PRK", 10, 3.0, 5.0),
    Service("PLY", "Playground equipment", "Parks", "PRK", 7, 1.5, 4.0),
    Service("RDT", "Rodent sighting", "Housing", "HSG", 10, 4.0, 6.0),
    Service("HSC", "Housing code complaint", "Housing", "HSG", 30, 4.0, 20.0),
    Service("BLD", "Unsafe building", "Housing", "HSG", 14, 1.5, 7.0),
    Service("WEB", "Website or online form problem", "Digital", "DTO", 3, 2.0, 1.5),
    Service("APP", "City app problem", "Digital", "DTO", 5, 1.5, 2.5),
    Service("REF", "General enquiry (cross-agency referral)", "Customer service", "DTO", 5, 5.0, 2.0),
)
SERVICE_CODES: tuple[str, ...] = tuple(s.code for s in SERVICES)


def district_aliases(district: District) -> list[str]:
    """Alternative spellings residents and source systems use for a district."""
    number = int(district.code[1:])
    return [f"Ward {number}", f"{number:02d}", str(number), district.name.lower()]


def population_matrix() -> np.ndarray:
    """Adult census population, shape (district, cell) with cells ordered as ``CELLS``."""
    rows = []
    for district in DISTRICTS:
        row = []
        for age_index, age_share in enumerate(district.age_shares):
            band_total = district.adults * age_share
            female = round(band_total * FEMALE_SHARE_BY_AGE[age_index])
            row.extend([female, round(band_total) - female])
        rows.append(row)
    return np.asarray(rows, dtype=np.int64)


def district_polygon(index: int) -> list[list[float]]:
    """Closed lon/lat ring of the district's grid cell (districts fill a 4 x 3 grid)."""
    west, south, east, north = district_bounds(index)
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def district_bounds(index: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the district with position ``index`` in ``DISTRICTS``."""
    column, row = index % GRID_COLUMNS, index // GRID_COLUMNS
    width = (EAST - WEST) / GRID_COLUMNS
    height = (NORTH - SOUTH) / GRID_ROWS
    west = round(WEST + column * width, 6)
    north = round(NORTH - row * height, 6)
    return west, round(north - height, 6), round(west + width, 6), north


def write_reference(reference_dir: Path) -> list[Path]:
    """Write districts.csv, population.csv, services.csv and districts.geojson."""
    reference_dir.mkdir(parents=True, exist_ok=True)
    districts = pl.DataFrame(
        {
            "district_code": [d.code for d in DISTRICTS],
            "district_name": [d.name for d in DISTRICTS],
            "aliases": ["|".join(district_aliases(d)) for d in DISTRICTS],
            "digital_access_rate": [d.digital_access_rate for d in DISTRICTS],
        }
    )
    population = population_matrix()
    population_frame = pl.DataFrame(
        {
            "district_code": [d.code for d in DISTRICTS for _ in CELLS],
            "age_band": [age for _ in DISTRICTS for age, _sex in CELLS],
            "sex": [sex for _ in DISTRICTS for _age, sex in CELLS],
            "population": population.ravel().tolist(),
        }
    )
    services = pl.DataFrame(
        {
            "service_code": [s.code for s in SERVICES],
            "service_name": [s.name for s in SERVICES],
            "category": [s.category for s in SERVICES],
            "agency": [s.agency for s in SERVICES],
            "sla_days": [s.sla_days for s in SERVICES],
        }
    )
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"district_code": d.code, "district_name": d.name},
                "geometry": {"type": "Polygon", "coordinates": [district_polygon(i)]},
            }
            for i, d in enumerate(DISTRICTS)
        ],
    }
    paths = {
        "districts.csv": districts,
        "population.csv": population_frame,
        "services.csv": services,
    }
    written = []
    for name, frame in paths.items():
        frame.write_csv(reference_dir / name)
        written.append(reference_dir / name)
    geojson_path = reference_dir / "districts.geojson"
    geojson_path.write_text(json.dumps(geojson, indent=1), encoding="utf-8")
    written.append(geojson_path)
    return written
