"""Resident feedback (311 requests), drawn one day at a time with vectorised numpy draws.

Each day has its own random stream ``default_rng([seed, day.toordinal()])``, so a day's content
does not depend on which other days were generated and memory stays bounded by one day.
Statuses are a snapshot "as of" the export time (06:00 on the day after the period), so late
requests are still open. Re-exports carry the later version of a record into the next day's file
of the same format.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import text
from pipelines.generate.city import (
    CITY_TIMEZONE,
    DISTRICT_CODES,
    DISTRICTS,
    SERVICES,
    SLOW_DISTRICT,
    SLOW_DISTRICT_FACTOR,
    district_aliases,
    district_bounds,
    population_matrix,
)

CHANNELS_DIGITAL: tuple[str, ...] = ("web", "app", "email", "social")
CHANNELS_DIGITAL_P = np.array([0.40, 0.35, 0.15, 0.10])
CHANNELS_ASSISTED: tuple[str, ...] = ("phone", "walk-in")
CHANNELS_ASSISTED_P = np.array([0.8, 0.2])
AGE_DIGITAL_FACTOR = np.array([1.25, 1.05, 0.75, 0.40])
OPEN311_SHARE = 0.4
WEEKDAY_FACTOR = (1.15, 1.10, 1.05, 1.0, 0.95, 0.45, 0.35)
# Hour-of-day weights; 02:00 is empty so no local time falls in a DST gap.
HOUR_WEIGHTS = np.array(
    [1, 0.5, 0, 0.3, 0.5, 1, 3, 6, 9, 10, 10, 9, 8, 9, 9, 8, 8, 7, 6, 5, 4, 3, 2, 1.5], dtype=float
)
RESOLUTION_SIGMA = 0.7
PARAMETERS: dict[str, float] = {
    "digital_share_base": 0.45,
    "digital_share_gain_over_period": 0.25,
    "responded_share_start": 0.72,
    "responded_share_gain_over_period": 0.20,
    "first_response_median_hours": 18.0,
    "resolution_time_improvement_over_period": 0.30,
    "reopen_rate_start": 0.10,
    "reopen_rate_drop_over_period": 0.04,
    "fixed_question_asked_share": 0.35,
    "negative_given_bad_outcome_start": 0.90,
    "negative_given_bad_outcome_drop": 0.20,
    "negative_given_good_outcome_start": 0.10,
    "negative_given_good_outcome_drop": 0.06,
    "open311_share": OPEN311_SHARE,
}
PII_RATES: dict[str, float] = {
    "email_in_text": 0.02,
    "phone_in_text": 0.02,
    "name_in_text": 0.03,
    "address_in_text": 0.04,
}
FAULT_RATES: dict[str, float] = {
    "malformed_date": 0.002,
    "unknown_district": 0.003,
    "missing_required_field": 0.002,
    "closed_before_opened": 0.0015,
}
REEXPORT_RATE = 0.01
MALFORMED_DATES: tuple[str, ...] = (
    "2024-02-30 10:15:00",
    "31/12/2024 10:15",
    "N/A",
    "2024-13-01T08:00:00",
    "yesterday",
)
UNKNOWN_DISTRICTS: tuple[str, ...] = ("D13", "D99", "Ward 42", "Springfield Heights", "Zone 7")
CITY_CSV_COLUMNS: tuple[str, ...] = (
    "Case ID",
    "Opened",
    "Closed",
    "First Response",
    "Status",
    "Service Code",
    "Category",
    "Agency",
    "Ward",
    "Channel",
    "Description",
    "Reopened",
    "Fixed Confirmed",
    "Reporter Name",
    "Reporter Email",
    "Address",
    "Latitude",
    "Longitude",
)
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
OPEN311_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


@dataclass(frozen=True)
class Timeline:
    """The generated period [start, end) and the moment the city exported its data."""

    start: datetime.date
    end: datetime.date

    @property
    def as_of(self) -> datetime.datetime:
        return datetime.datetime.combine(self.end, datetime.time(6, 0))

    def trend(self, day: datetime.date) -> float:
        """Elapsed share of the period (0 at start, 1 at end; beyond 1 for later extra days)."""
        return (day - self.start).days / max((self.end - self.start).days, 1)


def quarter_starts(start: datetime.date, quarters: int) -> list[datetime.date]:
    """First day of each of ``quarters`` consecutive quarters beginning with ``start``'s quarter."""
    first_month = (start.month - 1) // 3 * 3
    return [
        datetime.date(start.year + (first_month + 3 * q) // 12, (first_month + 3 * q) % 12 + 1, 1)
        for q in range(quarters + 1)
    ]


def day_weight(day: datetime.date) -> float:
    """Relative request volume of a day: weekday pattern times a summer peak."""
    season = 1 + 0.18 * np.cos(2 * np.pi * (day.timetuple().tm_yday - 196) / 365.25)
    return WEEKDAY_FACTOR[day.weekday()] * float(season)


def daily_request_counts(days: list[datetime.date], n_requests: int) -> list[int]:
    """Split ``n_requests`` over ``days`` by day weight (largest remainder: sums exactly)."""
    weights = np.array([day_weight(d) for d in days])
    expected = n_requests * weights / weights.sum()
    counts = np.floor(expected).astype(np.int64)
    shortfall = n_requests - int(counts.sum())
    counts[np.argsort(-(expected - counts), kind="stable")[:shortfall]] += 1
    return counts.tolist()


def service_weights(day: datetime.date) -> np.ndarray:
    """Service mix of a day; snow reports come in winter only."""
    weights = np.array([s.volume_weight for s in SERVICES])
    snow = [s.code for s in SERVICES].index("SNW")
    weights[snow] *= 4.0 if day.month in (12, 1, 2) else (0.6 if day.month in (3, 11) else 0.02)
    return weights / weights.sum()


def draw_requests(
    day: datetime.date,
    n: int,
    rng: np.random.Generator,
    timeline: Timeline,
    *,
    allow_reexport: bool,
    plant_canaries: bool,
) -> pl.DataFrame:
    """The day's requests in canonical (typed, true-valued) form with fault and tone markers."""
    t = timeline.trend(day)
    population = population_matrix()
    propensity = np.array([d.report_propensity for d in DISTRICTS])
    district_p = population.sum(axis=1) * propensity
    district = rng.choice(len(DISTRICTS), size=n, p=district_p / district_p.sum())
    cell_cum = np.cumsum(population / population.sum(axis=1, keepdims=True), axis=1)
    cell = (rng.random(n)[:, None] > cell_cum[district]).sum(axis=1).clip(0, 7)
    age = cell // 2
    service = rng.choice(len(SERVICES), size=n, p=service_weights(day))

    access = np.array([d.digital_access_rate for d in DISTRICTS])[district] / 0.9
    digital_p = PARAMETERS["digital_share_base"] + PARAMETERS["digital_share_gain_over_period"] * t
    is_digital = rng.random(n) < np.clip(digital_p * access * AGE_DIGITAL_FACTOR[age], 0.02, 0.97)
    channel = np.where(
        is_digital,
        np.asarray(CHANNELS_DIGITAL)[rng.choice(4, size=n, p=CHANNELS_DIGITAL_P)],
        np.asarray(CHANNELS_ASSISTED)[rng.choice(2, size=n, p=CHANNELS_ASSISTED_P)],
    )

    midnight = np.datetime64(day, "s")
    seconds = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()) * 3600 + rng.integers(
        0, 3600, size=n
    )
    opened = midnight + seconds.astype("timedelta64[s]")
    slow = np.asarray(DISTRICT_CODES)[district] == SLOW_DISTRICT
    median_days = np.array([s.median_resolution_days for s in SERVICES])[service]
    improvement = 1 - PARAMETERS["resolution_time_improvement_over_period"] * min(t, 1.0)
    resolution_days = rng.lognormal(
        np.log(median_days * np.where(slow, SLOW_DISTRICT_FACTOR, 1.0) * improvement),
        RESOLUTION_SIGMA,
    )
    closed = _skip_dst_gap(opened + (resolution_days * 86_400).astype("timedelta64[s]"))
    responded = rng.random(n) < min(
        PARAMETERS["responded_share_start"] + PARAMETERS["responded_share_gain_over_period"] * t,
        0.98,
    )
    response_delay = rng.lognormal(np.log(PARAMETERS["first_response_median_hours"]), 1.0, n)
    first_response = np.minimum(
        _skip_dst_gap(opened + (response_delay * 3600).astype("timedelta64[s]")), closed
    )
    as_of = np.datetime64(timeline.as_of, "s")
    is_closed = closed <= as_of
    responded &= first_response <= as_of
    reopen_rate = PARAMETERS["reopen_rate_start"] - PARAMETERS["reopen_rate_drop_over_period"] * t
    reopened = rng.poisson(np.where(slow, 2 * reopen_rate, reopen_rate))

    sla = np.array([s.sla_days for s in SERVICES])[service]
    asked = is_closed & (rng.random(n) < PARAMETERS["fixed_question_asked_share"])
    fixed_yes_p = np.clip(
        0.85 - 0.35 * (reopened > 0) - 0.25 * (resolution_days > sla) + 0.05 * t, 0.05, 0.98
    )
    fixed_yes = rng.random(n) < fixed_yes_p
    age_days = (as_of - opened).astype(np.float64) / 86_400
    bad = (
        (reopened > 0)
        | (asked & ~fixed_yes)
        | (is_closed & (resolution_days > 1.5 * sla))
        | (~is_closed & (age_days > sla))
    )
    negative_p = np.where(
        bad,
        PARAMETERS["negative_given_bad_outcome_start"] - PARAMETERS["negative_given_bad_outcome_drop"] * t,
        PARAMETERS["negative_given_good_outcome_start"] - PARAMETERS["negative_given_good_outcome_drop"] * t,
    )
    tone = np.where(
        rng.random(n) < np.clip(negative_p, 0.01, 0.99),
        "negative",
        np.where(is_closed, "positive", "neutral"),
    )

    frame = pl.DataFrame(
        {
            "request_id": "SR"
            + day.strftime("%Y%m%d")
            + "-"
            + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(6),
            "format": np.where(rng.random(n) < OPEN311_SHARE, "open311", "city"),
            "service_index": service,
            "district_code": np.asarray(DISTRICT_CODES)[district],
            "district_index": district,
            "age_band_index": age,
            "channel": channel,
            "opened": opened.astype("datetime64[ms]"),
            "closed": np.where(is_closed, closed, np.datetime64("NaT")).astype("datetime64[ms]"),
            "first_response": np.where(responded, first_response, np.datetime64("NaT")).astype(
                "datetime64[ms]"
            ),
            "reopened_count": reopened,
            "fixed_confirmed": np.where(asked, np.where(fixed_yes, "yes", "no"), ""),
            "tone": tone,
            "resolution_days": resolution_days,
        },
        strict=False,
    )
    frame = frame.with_columns(
        pl.when(pl.col("fixed_confirmed") != "").then("fixed_confirmed").alias("fixed_confirmed"),
        *_descriptions(frame, rng),
        *_reporters(rng, n, is_digital),
        *_locations(rng, district),
        *_faults_and_reexports(rng, n, is_closed, allow_reexport, plant_canaries),
    )
    if plant_canaries:
        frame = _plant_canaries(frame)
    return frame


def _skip_dst_gap(times: np.ndarray) -> np.ndarray:
    """Move 02:xx local times one hour on, so that none falls in the spring-forward gap."""
    hour = (times - times.astype("datetime64[D]")).astype("timedelta64[h]").astype(np.int64)
    return np.where(hour == 2, times + np.timedelta64(1, "h"), times)


def _descriptions(frame: pl.DataFrame, rng: np.random.Generator) -> list[pl.Series]:
    """Issue sentence, optional PII sentences, and a closing phrase in the request's tone."""
    n = frame.height
    issue = text.issue_phrases(frame["service_index"].to_numpy(), rng)
    context = text.pick(text.CONTEXT_PHRASES, rng.integers(0, len(text.CONTEXT_PHRASES), n))
    tone = frame["tone"]
    closing = (
        pl.DataFrame(
            {
                "tone": tone,
                "negative": text.pick(text.NEGATIVE_PHRASES, rng.integers(0, 10, n)),
                "positive": text.pick(text.POSITIVE_PHRASES, rng.integers(0, 10, n)),
                "neutral": text.pick(text.NEUTRAL_PHRASES, rng.integers(0, 5, n)),
            }
        )
        .select(
            pl.when(pl.col("tone") == "negative")
            .then("negative")
            .when(pl.col("tone") == "positive")
            .then("positive")
            .otherwise("neutral")
        )
        .to_series()
    )
    names, emails = text.person_names(rng, n)
    pii_flags = {kind: rng.random(n) < rate for kind, rate in PII_RATES.items()}
    pii = pl.DataFrame(
        {
            "issue": issue,
            "context": context,
            "closing": closing,
            "email": "Contact me at " + emails + ".",
            "phone": "Call me on " + text.phone_numbers(rng, n) + ".",
            "name": "My name is " + names + ".",
            "address": "It is at " + text.street_addresses(rng, n) + ".",
            **{f"has_{kind}": flag for kind, flag in pii_flags.items()},
        }
    )
    optional = [
        pl.when(pl.col(f"has_{kind}")).then(pl.col(column)).otherwise(pl.lit(None))
        for kind, column in (
            ("address_in_text", "address"),
            ("name_in_text", "name"),
            ("email_in_text", "email"),
            ("phone_in_text", "phone"),
        )
    ]
    sentence = pl.when(pl.col("context") == "").then(pl.col("issue")).otherwise(
        pl.format("{} {}", "issue", "context")
    ) + pl.lit(".")
    described = pii.select(
        pl.concat_str([sentence, *optional, pl.col("closing")], separator=" ", ignore_nulls=True).alias(
            "description"
        ),
        *[pl.col(f"has_{kind}").alias(f"pii_{kind}") for kind in PII_RATES],
    )
    return described.get_columns()


def _reporters(rng: np.random.Generator, n: int, is_digital: np.ndarray) -> list[pl.Series]:
    """Reporter name (55%) and email (45% online, 10% otherwise); null when not given."""
    names, emails = text.person_names(rng, n)
    given = pl.DataFrame(
        {
            "name": names,
            "email": emails,
            "has_name": rng.random(n) < 0.55,
            "has_email": rng.random(n) < np.where(is_digital, 0.45, 0.10),
        }
    )
    return given.select(
        pl.when("has_name").then("name").alias("reporter_name"),
        pl.when("has_email").then("email").alias("reporter_email"),
    ).get_columns()


def _locations(rng: np.random.Generator, district: np.ndarray) -> list[pl.Series]:
    bounds = np.array([district_bounds(i) for i in range(len(DISTRICTS))])[district]
    n = district.size
    lon = bounds[:, 0] + rng.random(n) * (bounds[:, 2] - bounds[:, 0])
    lat = bounds[:, 1] + rng.random(n) * (bounds[:, 3] - bounds[:, 1])
    alias_pool = tuple(spelling for d in DISTRICTS for spelling in (d.code, d.code, *district_aliases(d)[:3]))
    alias = text.pick(alias_pool, district * 5 + rng.integers(0, 5, n))
    return [
        pl.Series("lon", np.round(lon, 6)),
        pl.Series("lat", np.round(lat, 6)),
        pl.Series("address", text.street_addresses(rng, n)),
        pl.Series("zipcode", np.asarray([d.zipcode for d in DISTRICTS])[district]),
        pl.Series("ward_written", alias),
    ]


def _faults_and_reexports(
    rng: np.random.Generator,
    n: int,
    is_closed: np.ndarray,
    allow_reexport: bool,
    plant_canaries: bool,
) -> list[pl.Series]:
    kinds = ("none", *FAULT_RATES)
    probabilities = np.array([1 - sum(FAULT_RATES.values()), *FAULT_RATES.values()])
    fault = np.asarray(kinds)[rng.choice(len(kinds), size=n, p=probabilities)]
    fault[(fault == "closed_before_opened") & ~is_closed] = "none"
    if plant_canaries:
        fault[:2] = "none"
    reexport = allow_reexport & is_closed & (fault == "none") & (rng.random(n) < REEXPORT_RATE)
    if plant_canaries:
        reexport[:2] = False
    return [
        pl.Series("fault", fault),
        pl.Series("fault_variant", rng.integers(0, 5, n)),
        pl.Series("backdate_hours", rng.integers(1, 72, n)),
        pl.Series("reexport", reexport),
    ]


def _plant_canaries(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows 0 and 1 (one per format) carry every PII canary."""
    row = pl.int_range(pl.len())
    canary = row < 2
    return frame.with_columns(
        pl.when(row == 0)
        .then(pl.lit("open311"))
        .when(row == 1)
        .then(pl.lit("city"))
        .otherwise("format")
        .alias("format"),
        pl.when(canary)
        .then(pl.lit(text.CANARY_REPORTER_NAME))
        .otherwise("reporter_name")
        .alias("reporter_name"),
        pl.when(canary)
        .then(pl.lit(text.CANARY_REPORTER_EMAIL))
        .otherwise("reporter_email")
        .alias("reporter_email"),
        pl.when(canary).then(pl.lit(text.CANARY_DESCRIPTION)).otherwise("description").alias("description"),
        *[(pl.col(f"pii_{kind}") | canary).alias(f"pii_{kind}") for kind in PII_RATES],
    )


def early_versions(requests: pl.LazyFrame) -> pl.LazyFrame:
    """Re-exported rows as first exported: still open, before closure and fix confirmation."""
    early = pl.col("reexport")
    return requests.with_columns(
        pl.when(early).then(None).otherwise("closed").alias("closed"),
        pl.when(early).then(None).otherwise("fixed_confirmed").alias("fixed_confirmed"),
        pl.when(early).then(0).otherwise("reopened_count").alias("reopened_count"),
    )


def with_faults(requests: pl.LazyFrame, time_format: str) -> pl.LazyFrame:
    """Formatted timestamps and district with the day's planted faults applied."""
    fault = pl.col("fault")

    def stamp(moment: pl.Expr) -> pl.Expr:
        if time_format.endswith("z"):
            moment = moment.dt.replace_time_zone(CITY_TIMEZONE, ambiguous="earliest")
        return moment.dt.to_string(time_format)

    closed = (
        pl.when(fault == "closed_before_opened")
        .then(pl.col("opened") - pl.duration(hours=pl.col("backdate_hours")))
        .otherwise("closed")
    )
    updated = pl.max_horizontal("opened", "first_response", "closed")
    missing = fault == "missing_required_field"
    return requests.with_columns(closed.alias("closed")).with_columns(
        pl.when(fault == "malformed_date")
        .then(pl.lit(pl.Series(MALFORMED_DATES)).gather(pl.col("fault_variant")))
        .otherwise(stamp(pl.col("opened")))
        .alias("opened_text"),
        stamp(pl.col("closed")).alias("closed_text"),
        stamp(pl.col("first_response")).alias("first_response_text"),
        stamp(updated).alias("updated_text"),
        pl.when(fault == "unknown_district")
        .then(pl.lit(pl.Series(UNKNOWN_DISTRICTS)).gather(pl.col("fault_variant")))
        .otherwise("ward_written")
        .alias("ward_written"),
        pl.when(missing & (pl.col("fault_variant") % 2 == 0))
        .then(None)
        .otherwise(pl.lit(pl.Series([s.code for s in SERVICES])).gather("service_index"))
        .alias("service_code"),
        pl.when(missing & (pl.col("fault_variant") % 2 == 1))
        .then(None)
        .otherwise("request_id")
        .alias("request_id"),
        pl.lit(pl.Series([s.name for s in SERVICES])).gather("service_index").alias("service_name"),
        pl.lit(pl.Series([s.category for s in SERVICES])).gather("service_index").alias("category"),
        pl.lit(pl.Series([s.agency for s in SERVICES])).gather("service_index").alias("agency"),
    )


def to_open311(requests: pl.LazyFrame) -> pl.LazyFrame:
    """GeoReport v2 request records with the ``extended_attributes`` object."""
    closed = pl.col("closed").is_not_null()
    notes = pl.lit(
        pl.Series(
            [
                "Work completed",
                "Resolved",
                "Referred to responsible agency",
                "Crew visited, issue fixed",
                "Completed as requested",
            ]
        )
    )
    return (
        with_faults(requests, OPEN311_TIME_FORMAT)
        .select(
            "request_id",
            pl.when(closed).then(pl.lit("closed")).otherwise(pl.lit("open")).alias("status"),
            pl.when(closed).then(notes.gather(pl.col("fault_variant"))).alias("status_notes"),
            "service_name",
            "service_code",
            "description",
            pl.col("agency").alias("agency_responsible"),
            pl.col("opened_text").alias("requested_datetime"),
            pl.col("updated_text").alias("updated_datetime"),
            "address",
            "zipcode",
            "lat",
            pl.col("lon").alias("long"),
            pl.when(pl.col("backdate_hours") < 8)
            .then(pl.format("https://media.example.org/sr/{}.jpg", "request_id"))
            .alias("media_url"),
            pl.struct(
                pl.col("ward_written").alias("district"),
                "channel",
                pl.col("closed_text").alias("closed_datetime"),
                pl.col("first_response_text").alias("first_response_datetime"),
                "reopened_count",
                "fixed_confirmed",
                "reporter_name",
                "reporter_email",
            ).alias("extended_attributes"),
        )
        .rename({"request_id": "service_request_id"})
    )


def to_city_csv(requests: pl.LazyFrame) -> pl.LazyFrame:
    """The city's own CSV export, columns as in docs/contracts.md."""
    closed = pl.col("closed").is_not_null()
    return with_faults(requests, CSV_TIME_FORMAT).select(
        pl.col("request_id").alias("Case ID"),
        pl.col("opened_text").alias("Opened"),
        pl.col("closed_text").alias("Closed"),
        pl.col("first_response_text").alias("First Response"),
        pl.when(closed).then(pl.lit("Closed")).otherwise(pl.lit("Open")).alias("Status"),
        pl.col("service_code").alias("Service Code"),
        pl.col("category").alias("Category"),
        pl.col("agency").alias("Agency"),
        pl.col("ward_written").alias("Ward"),
        pl.col("channel").alias("Channel"),
        pl.col("description").alias("Description"),
        pl.col("reopened_count").alias("Reopened"),
        pl.col("fixed_confirmed").str.to_titlecase().alias("Fixed Confirmed"),
        pl.col("reporter_name").alias("Reporter Name"),
        pl.col("reporter_email").alias("Reporter Email"),
        pl.col("address").alias("Address"),
        pl.col("lat").alias("Latitude"),
        pl.col("lon").alias("Longitude"),
    )


def open311_path(feedback_dir: Path, label: str) -> Path:
    """Where the Open311 file of a day (``YYYY-MM-DD``) or backfill month (``YYYY-MM``) goes."""
    return feedback_dir / f"open311_requests_{label}.json"


def city_csv_path(feedback_dir: Path, label: str) -> Path:
    """Where the city CSV file of a day (``YYYY-MM-DD``) or backfill month (``YYYY-MM``) goes."""
    return feedback_dir / f"city311_{label}.csv"


def day_versions(requests: pl.DataFrame, carried: pl.DataFrame | None) -> pl.DataFrame:
    """The records a day's export holds: its requests plus later versions re-exported from yesterday."""
    today = early_versions(requests.lazy())
    if carried is not None:
        today = pl.concat([today, carried.lazy().with_columns(pl.lit(False).alias("reexport"))])
    return today.collect()


def write_export(
    feedback_dir: Path, label: str, records: pl.DataFrame, *, cp1252: bool = False
) -> list[Path]:
    """Write one export in both formats (Open311 JSON and the city CSV) for a day or a month."""
    feedback_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = open311_path(feedback_dir, label), city_csv_path(feedback_dir, label)
    # One chunk: polars 2.1 panics gathering from a literal Series over a multi-chunk frame.
    exported = records.rechunk().lazy()
    open311 = to_open311(exported.filter(pl.col("format") == "open311")).collect()
    json_path.write_text(open311.write_json(), encoding="utf-8")
    city = to_city_csv(exported.filter(pl.col("format") == "city"))
    if cp1252:
        city = _with_cp1252_names(city)
        csv_path.write_bytes(city.collect().write_csv().encode("cp1252"))
    else:
        city.collect().write_csv(csv_path)
    return [json_path, csv_path]


def write_day(
    feedback_dir: Path,
    day: datetime.date,
    requests: pl.DataFrame,
    carried: pl.DataFrame | None,
    *,
    cp1252: bool = False,
) -> list[Path]:
    """Write the day's two files: its requests plus re-exported later versions from yesterday."""
    return write_export(feedback_dir, day.isoformat(), day_versions(requests, carried), cp1252=cp1252)


def _with_cp1252_names(city: pl.LazyFrame) -> pl.LazyFrame:
    """Force non-ASCII reporter names into the last rows of the cp1252 file.

    The last rather than the first rows: the PII canaries are planted in the first day's requests.
    """
    frame = city.collect()
    count = min(len(text.CP1252_NAMES), frame.height)
    rows = list(range(frame.height - count, frame.height))
    names = frame["Reporter Name"].scatter(rows, list(text.CP1252_NAMES[:count]))
    return frame.with_columns(names).lazy()


def tally(requests: pl.DataFrame, quarter_label: str) -> pl.DataFrame:
    """Counts per quarter x district that truth.json reports (realised, not expected)."""
    return requests.group_by("district_code").agg(
        pl.lit(quarter_label).alias("quarter"),
        pl.len().alias("requests"),
        pl.col("channel").is_in(CHANNELS_DIGITAL).sum().alias("digital"),
        (pl.col("tone") == "negative").sum().alias("negative_tone"),
        pl.col("first_response").is_not_null().sum().alias("responded"),
        pl.col("closed").is_not_null().sum().alias("closed"),
        (pl.col("reopened_count") > 0).sum().alias("reopened"),
        *[pl.col(f"pii_{kind}").sum().alias(kind) for kind in PII_RATES],
        pl.col("reporter_name").is_not_null().sum().alias("reporter_name"),
        pl.col("reporter_email").is_not_null().sum().alias("reporter_email"),
        *[(pl.col("fault") == kind).sum().alias(kind) for kind in FAULT_RATES],
        pl.col("reexport").sum().alias("reexported"),
        pl.col("format").eq("open311").sum().alias("open311"),
    )
