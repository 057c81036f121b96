"""Orchestration of ``civicloop generate``: writes every inbox file and truth.json."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import city, feedback, kpis, reviews, survey, text

TRUTH_FILE = "truth.json"
CP1252_DAY_INDEX = 10
DAILY_FILE_DAYS = 14


def _quarter_label(day: datetime.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _stream(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def generate_city(
    data_dir: Path,
    *,
    n_requests: int = 300_000,
    seed: int = 20261128,
    start: datetime.date = datetime.date(2024, 1, 1),
    quarters: int = 8,
    survey_respondents_per_wave: int = 1_500,
    progress: Callable[[str, float], None] | None = None,
    daily_file_days: int = DAILY_FILE_DAYS,
) -> dict:
    """Writes <data_dir>/inbox/<source>/... files and <data_dir>/truth.json; returns the truth dict.

    Like a city onboarding onto civicloop, the history arrives as monthly backfill exports and only
    the last ``daily_file_days`` days as daily files (the feed a city sends every morning).
    """
    if quarters < 2:
        raise ValueError("quarters must be at least 2 (reviews cover all quarters but the last)")
    report = progress or (lambda _stage, _fraction: None)
    inbox = Path(data_dir) / "inbox"
    boundaries = feedback.quarter_starts(start, quarters)
    timeline = feedback.Timeline(start, boundaries[-1])

    city.write_reference(inbox / "reference")
    report("reference", 1.0)
    feedback_truth = _write_feedback(inbox / "feedback", timeline, n_requests, seed, report, daily_file_days)
    survey_truth = _write_survey(inbox / "survey", boundaries, survey_respondents_per_wave, seed)
    report("survey", 1.0)
    kpis.write_kpis(inbox / "kpis", boundaries[0], quarters * 3, _stream(seed, 2))
    report("kpis", 1.0)
    _, review_truth = reviews.write_reviews(inbox / "reviews", boundaries, timeline.end, _stream(seed, 3))
    report("reviews", 1.0)

    truth = {
        "seed": seed,
        "start": boundaries[0].isoformat(),
        "end_exclusive": timeline.end.isoformat(),
        "quarters": quarters,
        "as_of": timeline.as_of.isoformat(),
        "timezone": city.CITY_TIMEZONE,
        "n_requests": n_requests,
        "districts": {
            d.code: {
                "name": d.name,
                "adults": int(p),
                "report_propensity": d.report_propensity,
                "digital_access_rate": d.digital_access_rate,
            }
            for d, p in zip(city.DISTRICTS, city.population_matrix().sum(axis=1), strict=True)
        },
        "agencies": city.AGENCIES,
        "low_access_district": {"district_code": city.LOW_ACCESS_DISTRICT, "digital_access_rate": 0.55},
        "slow_district": {
            "district_code": city.SLOW_DISTRICT,
            "k": city.SLOW_DISTRICT_FACTOR,
            "applies_to": "every service type",
            "resolution_sigma": feedback.RESOLUTION_SIGMA,
        },
        "under_reporting_district": {
            "district_code": city.UNDER_REPORTING_DISTRICT,
            "report_propensity": city.UNDER_REPORTING_PROPENSITY,
            "survey_question": "problem_in_area",
            "survey_logit_effect": 1.4,
        },
        "feedback": feedback_truth,
        "survey": survey_truth,
        "kpis": {
            "agencies": list(city.AGENCIES),
            "months": quarters * 3,
            "common": [k.kpi_id for k in kpis.COMMON_KPIS],
            "dto_only": [k.kpi_id for k in kpis.DTO_KPIS] + ["dto_headcount"],
        },
        "reviews": review_truth,
        "pii_canaries": list(text.PII_CANARIES),
    }
    (Path(data_dir) / TRUTH_FILE).write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return truth


def _write_feedback(
    feedback_dir: Path,
    timeline: feedback.Timeline,
    n_requests: int,
    seed: int,
    report: Callable[[str, float], None],
    daily_file_days: int,
) -> dict:
    days = [timeline.start + datetime.timedelta(i) for i in range((timeline.end - timeline.start).days)]
    counts = feedback.daily_request_counts(days, n_requests)
    first_daily_index = max(0, len(days) - daily_file_days)
    tallies = []
    carried: pl.DataFrame | None = None
    canaries_planted = False
    cp1252_file = None
    month_records: list[pl.DataFrame] = []
    month_label: str | None = None
    month_cp1252 = False

    def flush_month() -> None:
        nonlocal month_records, month_label, month_cp1252, cp1252_file
        if month_records and month_label is not None:
            paths = feedback.write_export(
                feedback_dir, month_label, pl.concat(month_records), cp1252=month_cp1252
            )
            if month_cp1252:
                cp1252_file = paths[1].name
        month_records, month_label, month_cp1252 = [], None, False

    for index, (day, count) in enumerate(zip(days, counts, strict=True)):
        plant = not canaries_planted and count >= 2
        requests = feedback.draw_requests(
            day,
            count,
            _stream(seed, 1, day.toordinal()),
            timeline,
            allow_reexport=index < len(days) - 1,
            plant_canaries=plant,
        )
        canaries_planted |= plant
        is_cp1252 = index == min(CP1252_DAY_INDEX, len(days) - 1)
        records = feedback.day_versions(requests, carried)
        if index >= first_daily_index:
            flush_month()
            paths = feedback.write_export(feedback_dir, day.isoformat(), records, cp1252=is_cp1252)
            if is_cp1252:
                cp1252_file = paths[1].name
        else:
            label = day.strftime("%Y-%m")
            if label != month_label:
                flush_month()
                month_label = label
            month_records.append(records)
            month_cp1252 |= is_cp1252
        carried = requests.filter("reexport")
        tallies.append(feedback.tally(requests, _quarter_label(day)))
        if index % 30 == 0:
            report("feedback", index / len(days))
    flush_month()
    report("feedback", 1.0)
    by_quarter = (
        pl.concat(tallies).group_by("quarter", "district_code").sum().sort("quarter", "district_code")
    )
    city_quarter = by_quarter.drop("district_code").group_by("quarter").sum().sort("quarter")
    totals = by_quarter.drop("quarter", "district_code").sum().to_dicts()[0]
    return {
        "requests_written": n_requests + int(totals["reexported"]),
        "unique_requests": n_requests,
        "open311_share": feedback.OPEN311_SHARE,
        "parameters": feedback.PARAMETERS,
        "channel_digital_age_factor": dict(
            zip(city.AGE_BANDS, feedback.AGE_DIGITAL_FACTOR.tolist(), strict=True)
        ),
        "faults": {
            **{kind: int(totals[kind]) for kind in feedback.FAULT_RATES},
            "duplicate_request_id": int(totals["reexported"]),
            "cp1252_file": 1,
        },
        "fault_rates": {**feedback.FAULT_RATES, "duplicate_request_id": feedback.REEXPORT_RATE},
        "cp1252_file": cp1252_file,
        "pii_rates": feedback.PII_RATES,
        "pii_counts": {
            kind: int(totals[kind]) for kind in (*feedback.PII_RATES, "reporter_name", "reporter_email")
        },
        "by_quarter": city_quarter.to_dicts(),
        "by_quarter_district": by_quarter.to_dicts(),
        "sentiment_trend": {
            "planted": "negative-tone share falls over time (better outcomes and gentler tone)",
            "negative_share_by_quarter": {
                row["quarter"]: row["negative_tone"] / row["requests"] for row in city_quarter.to_dicts()
            },
        },
    }


def _write_survey(survey_dir: Path, boundaries: list[datetime.date], respondents: int, seed: int) -> dict:
    survey_dir.mkdir(parents=True, exist_ok=True)
    survey.write_codebook(survey_dir)
    waves = boundaries[:-1]
    true_shares, out_of_range = {}, 0
    for index, quarter_start in enumerate(waves):
        wave = _quarter_label(quarter_start)
        t = index / max(len(waves) - 1, 1)
        frame, broken = survey.draw_wave(wave, t, respondents, _stream(seed, 4, index))
        frame.write_csv(survey_dir / f"survey_{wave}.csv")
        out_of_range += broken
        true_shares[wave] = survey.true_shares(t)
    return {
        "waves": list(true_shares),
        "respondents_per_wave": respondents,
        "true_agree_shares": true_shares,
        "skew": {
            "age_propensity": dict(zip(city.AGE_BANDS, survey.AGE_PROPENSITY.tolist(), strict=True)),
            "female_propensity": survey.FEMALE_PROPENSITY,
            "oversampled_district": city.SURVEY_OVERSAMPLED_DISTRICT,
            "oversampled_district_propensity": survey.OVERSAMPLED_DISTRICT_PROPENSITY,
        },
        "missing_rates": survey.MISSING_RATES,
        "faults": {"out_of_range_answer": out_of_range},
    }


def generate_feedback_day(data_dir: Path, day: datetime.date, *, n_requests: int, seed: int) -> list[Path]:
    """Writes one extra day's feedback files (for incremental-build tests/benchmarks).

    The day is consistent with the city: same reference data, trends and formats.
    """
    truth_path = Path(data_dir) / TRUTH_FILE
    if truth_path.exists():
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        start = datetime.date.fromisoformat(truth["start"])
        end = datetime.date.fromisoformat(truth["end_exclusive"])
    else:
        start, end = datetime.date(2024, 1, 1), datetime.date(2026, 1, 1)
    # The day's own export: its statuses are as of the morning after it.
    timeline = feedback.Timeline(start, max(end, day + datetime.timedelta(1)))
    feedback_dir = Path(data_dir) / "inbox" / "feedback"
    label = day.isoformat()
    targets = (feedback.open311_path(feedback_dir, label), feedback.city_csv_path(feedback_dir, label))
    if any(path.exists() for path in targets):
        raise FileExistsError(f"feedback files for {day} already exist in {feedback_dir}")
    requests = feedback.draw_requests(
        day,
        n_requests,
        _stream(seed, 1, day.toordinal()),
        timeline,
        allow_reexport=False,
        plant_canaries=False,
    )
    return feedback.write_day(feedback_dir, day, requests, None)
