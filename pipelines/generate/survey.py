"""Quarterly resident survey: a skewed sample of the census answering seven questions.

Answer probabilities follow a logistic model of district, age band, sex and time (``QUESTIONS``).
The sample over-represents older residents, women and ``SURVEY_OVERSAMPLED_DISTRICT`` and
under-represents 18-34 year olds, so unweighted shares are biased; the true population shares
(model probabilities applied to the census) are returned for truth.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from pipelines.generate.city import (
    AGE_BANDS,
    CELLS,
    DISTRICT_CODES,
    DISTRICTS,
    LOW_ACCESS_DISTRICT,
    SEXES,
    SLOW_DISTRICT,
    SURVEY_OVERSAMPLED_DISTRICT,
    UNDER_REPORTING_DISTRICT,
    district_aliases,
    population_matrix,
)

AGREE_LABELS = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")
SATISFIED_LABELS = (
    "Very dissatisfied",
    "Dissatisfied",
    "Neither satisfied nor dissatisfied",
    "Satisfied",
    "Very satisfied",
)
YES_NO_LABELS = ("No", "Yes")
MISSING_CODES = ("Refused", "Don't know", "")
MISSING_RATES = {"Don't know": 0.03, "Refused": 0.01, "": 0.01}
OUT_OF_RANGE_RATE = 0.004
OUT_OF_RANGE_VALUES = ("0", "7", "9")
# Relative inclusion propensity of the sample design that went wrong.
AGE_PROPENSITY = np.array([0.45, 0.9, 1.45, 1.7])
FEMALE_PROPENSITY = 1.15
OVERSAMPLED_DISTRICT_PROPENSITY = 1.9
INTERNET_AGE_FACTOR = np.array([1.08, 1.05, 0.95, 0.75])


@dataclass(frozen=True)
class Question:
    """One survey question and the logistic model of its top-box answer."""

    question_id: str
    column: str
    text: str
    consideration: int
    labels: tuple[str, ...]
    intercept: float
    age_effect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    female_effect: float = 0.0
    district_effect: dict[str, float] = field(default_factory=dict)
    trend: float = 0.0
    # The catalogue indicator the codebook maps this question to (None: asked, not an indicator).
    indicator: str | None = None

    @property
    def agree_min(self) -> int:
        """Lowest scale value that counts as agreement (the top box)."""
        return len(self.labels) - 1 if len(self.labels) == 5 else 1

    @property
    def scale_min(self) -> int:
        return 1 if len(self.labels) == 5 else 0


QUESTIONS: tuple[Question, ...] = (
    Question(
        "trust_city",
        "Q1_trust",
        "I trust the city to deliver good services.",
        4,
        AGREE_LABELS,
        -0.2,
        (-0.5, -0.1, 0.3, 0.5),
        0.1,
        {SLOW_DISTRICT: -0.5},
        0.4,
        indicator="c4_trust",
    ),
    Question(
        "satisfied_services",
        "Q2_satisfaction",
        "Overall, how satisfied are you with the services the city provides?",
        4,
        SATISFIED_LABELS,
        0.0,
        (-0.3, 0.0, 0.3, 0.4),
        0.0,
        {SLOW_DISTRICT: -0.7},
        0.3,
        indicator="c4_satisfaction_gap",
    ),
    Question(
        "city_listens",
        "Q3_listens",
        "The city listens to residents like me.",
        1,
        AGREE_LABELS,
        -0.6,
        (-0.6, -0.2, 0.3, 0.4),
        0.0,
        {LOW_ACCESS_DISTRICT: -0.4},
        0.5,
        indicator="c1_city_listens",
    ),
    Question(
        "problem_in_area",
        "Q4_problem",
        "In the last 3 months I had a problem in my area that I could have reported to the city.",
        2,
        YES_NO_LABELS,
        -0.9,
        (0.3, 0.1, -0.2, -0.4),
        0.0,
        {UNDER_REPORTING_DISTRICT: 1.4},
        0.0,
        indicator="c2_underreporting_index",
    ),
    Question(
        "heard_back",
        "Q5_heard_back",
        "When I reported something to the city, I heard back.",
        5,
        AGREE_LABELS,
        -0.3,
        (0.0, 0.0, 0.1, 0.1),
        0.0,
        {SLOW_DISTRICT: -0.5},
        0.8,
    ),
    Question(
        "took_part_consultation",
        "Q6_consultation",
        "I took part in a city consultation this year.",
        4,
        YES_NO_LABELS,
        -2.0,
        (-0.6, 0.0, 0.4, 0.5),
        0.1,
        {},
        0.3,
        indicator="c4_consultation_participation",
    ),
    Question(
        "used_digital_channel",
        "Q7_digital",
        "In the last 12 months I used the city website or app for a city service.",
        2,
        YES_NO_LABELS,
        0.6,
        (1.2, 0.6, -0.5, -1.6),
        0.0,
        {LOW_ACCESS_DISTRICT: -1.2},
        0.6,
        indicator="c2_digital_takeup_gap",
    ),
)


def agree_probability(question: Question, t: float) -> np.ndarray:
    """Top-box probability per (district, cell) at period fraction ``t``."""
    logit = np.full((len(DISTRICTS), len(CELLS)), question.intercept + question.trend * t)
    for cell_index, (age, sex) in enumerate(CELLS):
        logit[:, cell_index] += question.age_effect[AGE_BANDS.index(age)]
        logit[:, cell_index] += question.female_effect * (sex == "F")
    for district_code, effect in question.district_effect.items():
        logit[DISTRICT_CODES.index(district_code), :] += effect
    return 1 / (1 + np.exp(-logit))


def home_internet_probability() -> np.ndarray:
    """Household broadband probability per (district, cell)."""
    access = np.array([d.digital_access_rate for d in DISTRICTS])[:, None]
    age_factor = np.array([INTERNET_AGE_FACTOR[AGE_BANDS.index(age)] for age, _ in CELLS])
    return np.clip(access * age_factor[None, :], 0, 0.99)


def sample_propensity() -> np.ndarray:
    """Probability that a respondent comes from each (district, cell): census x skew."""
    weight = population_matrix().astype(float)
    for cell_index, (age, sex) in enumerate(CELLS):
        weight[:, cell_index] *= AGE_PROPENSITY[AGE_BANDS.index(age)]
        weight[:, cell_index] *= FEMALE_PROPENSITY if sex == "F" else 1.0
    weight[DISTRICT_CODES.index(SURVEY_OVERSAMPLED_DISTRICT), :] *= OVERSAMPLED_DISTRICT_PROPENSITY
    return weight / weight.sum()


def true_shares(t: float) -> dict[str, float]:
    """Census-population share answering in the top box, per question, at time ``t``."""
    population = population_matrix().astype(float)
    shares = {
        q.question_id: float((population * agree_probability(q, t)).sum() / population.sum())
        for q in QUESTIONS
    }
    shares["has_home_internet"] = float((population * home_internet_probability()).sum() / population.sum())
    return shares


def draw_wave(wave: str, t: float, n: int, rng: np.random.Generator) -> tuple[pl.DataFrame, int]:
    """One wave's wide answers and the number of out-of-range answers planted in it."""
    probability = sample_propensity().ravel()
    flat = rng.choice(probability.size, size=n, p=probability)
    district, cell = np.divmod(flat, len(CELLS))
    spellings = tuple(
        spelling
        for d in DISTRICTS
        for spelling in (*[d.code] * 14, *[d.name] * 3, *district_aliases(d)[:1] * 2, district_aliases(d)[2])
    )
    columns: dict[str, object] = {
        "respondent_id": [f"R{wave}-{i:05d}" for i in range(1, n + 1)],
        "wave": [wave] * n,
        "district": np.asarray(spellings)[district * 20 + rng.integers(0, 20, n)],
        "age_band": np.asarray(AGE_BANDS)[cell // 2],
        "sex": np.asarray(SEXES)[cell % 2],
        "home_internet": np.where(rng.random(n) < home_internet_probability()[district, cell], "Yes", "No"),
    }
    out_of_range = 0
    for question in QUESTIONS:
        agree = rng.random(n) < agree_probability(question, t)[district, cell]
        if len(question.labels) == 5:
            value = np.where(
                agree, 4 + (rng.random(n) < 0.4), rng.choice([1, 2, 3], size=n, p=[0.2, 0.35, 0.45])
            )
        else:
            value = agree.astype(np.int64)
        answer = np.asarray(question.labels)[value - question.scale_min].astype(object)
        missing_draw = rng.random(n)
        threshold = 0.0
        for code, rate in MISSING_RATES.items():
            answer[(missing_draw >= threshold) & (missing_draw < threshold + rate)] = code
            threshold += rate
        if len(question.labels) == 5:
            broken = (missing_draw >= threshold) & (rng.random(n) < OUT_OF_RANGE_RATE)
            answer[broken] = np.asarray(OUT_OF_RANGE_VALUES)[rng.integers(0, 3, int(broken.sum()))]
            out_of_range += int(broken.sum())
        columns[question.column] = answer
    return pl.DataFrame(columns), out_of_range


def codebook() -> dict:
    """The codebook written to survey/codebook.yaml, in the schema of pipelines/ingest/codebooks."""
    return {
        "name": "civicloop_sample_city",
        "match": ["survey_*.csv"],
        "respondent_id_column": "respondent_id",
        "wave_column": "wave",
        "missing_codes": list(MISSING_CODES),
        "questions": [
            {
                "id": q.question_id,
                "column": q.column,
                "text": q.text,
                "consideration": q.consideration,
                "scale_min": q.scale_min,
                "scale_max": q.scale_min + len(q.labels) - 1,
                "top_box": q.agree_min,
                "labels": {label: q.scale_min + i for i, label in enumerate(q.labels)},
                **({"indicator": q.indicator} if q.indicator else {}),
            }
            for q in QUESTIONS
        ],
        "demographics": {
            "district_code": {"columns": ["district"]},
            "age_band": {"columns": ["age_band"], "map": {a: a for a in AGE_BANDS}},
            "sex": {"columns": ["sex"], "map": {s: s for s in SEXES}},
            "digital_access": {"columns": ["home_internet"]},
        },
    }


CODEBOOK_HEADER = """\
# civicloop survey codebook (written by `civicloop generate`); schema documented in
# pipelines/ingest/codebooks/README.md. District answers are spelled freely (code, name,
# "Ward 3", "3") and resolved through the reference district aliases. A number outside a
# question's scale is an out-of-range answer (quarantined), not a missing code.
"""


def write_codebook(survey_dir: Path) -> Path:
    """Write codebook.yaml with its documentation header."""
    path = survey_dir / "codebook.yaml"
    path.write_text(
        CODEBOOK_HEADER + yaml.safe_dump(codebook(), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path
