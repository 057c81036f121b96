"""Declarative mapping profiles (YAML): which files a profile reads and how columns map.

A data engineer adds a city format by dropping a YAML file into ``pipelines/ingest/profiles/``
(or a survey codebook into ``pipelines/ingest/codebooks/``); files are matched to profiles by
source folder and file-name glob. See ``profiles/README.md`` for every key.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import itertools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.settings import PROJECT_ROOT

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
CODEBOOKS_DIR = Path(__file__).resolve().parent / "codebooks"
DEFAULT_NULL_TOKENS = ["", "NA", "N/A", "Unspecified", "null", "NULL", "None", "nan"]
INDICATOR_CATALOG = PROJECT_ROOT / "dbt_project" / "seeds" / "seed_indicator_catalog.csv"
WAVE_PATTERN = r"^\d{4}(?:[Qq][1-4])?$"


DemographicName = Literal["district_code", "age_band", "sex", "digital_access"]

# The survey indicators that dbt computes from the answers to one question
# (int_survey__indicator_values, int_equity__underreporting_index), with the demographics each
# groups by: a codebook that maps one of them must declare those, or the indicator could never be
# computed and would sit suppressed without saying why. A unit test keeps this list and the
# catalogue's survey indicators in step.
QUESTION_INDICATORS: dict[str, tuple[DemographicName, ...]] = {
    "c1_city_listens": (),
    "c2_underreporting_index": ("district_code",),
    "c2_digital_takeup_gap": ("age_band",),
    "c4_trust": (),
    "c4_satisfaction_gap": ("age_band",),
    "c4_consultation_participation": (),
}
# Survey indicators that are not read off a question of their own, and where they come from.
DERIVED_SURVEY_INDICATORS = {
    "c2_weighting_gap": "it is read off the question mapped to c4_trust",
    "c4_participation_coverage": "it counts respondents per district, not answers to a question",
}


@functools.cache
def catalogue_sources() -> dict[str, str]:
    """indicator_id -> source of every indicator in the catalogue seed."""
    with INDICATOR_CATALOG.open(encoding="utf-8", newline="") as handle:
        return {row["indicator_id"]: row["source"] for row in csv.DictReader(handle)}


class StrictModel(BaseModel):
    """Profiles reject unknown keys so that a typo fails loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


class DistrictRule(StrictModel):
    """How the district value in a file becomes a reference ``district_code``."""

    # Values (matched after normalisation) that mean "no district given" rather than "unknown".
    missing_patterns: list[str] = Field(default_factory=list)


class FeedbackProfile(StrictModel):
    """Mapping of one city's request export (CSV or Open311 JSON) to raw.feedback_requests."""

    kind: Literal["feedback_csv", "open311_json"]
    name: str
    description: str = ""
    source: Literal["feedback"] = "feedback"
    match: list[str]
    source_format: str
    delimiter: str = ","
    null_tokens: list[str] = Field(default_factory=lambda: list(DEFAULT_NULL_TOKENS))
    columns: dict[str, str]
    point_column: str | None = None
    timestamp_formats: list[str]
    timestamp_formats_by_field: dict[str, list[str]] = Field(default_factory=dict)
    strip_timezone_offset: bool = False
    district: DistrictRule = Field(default_factory=DistrictRule)
    channel_map: dict[str, str] = Field(default_factory=dict)
    channel_default: str | None = "other"
    status_map: dict[str, str] = Field(default_factory=dict)
    status_default: str | None = None
    free_text: list[str] = Field(default_factory=lambda: ["description"])
    reporter_name_columns: list[str] = Field(default_factory=list)
    reporter_id_columns: list[str] = Field(default_factory=list)
    required: list[str] = Field(default_factory=lambda: ["request_id", "opened_at", "service"])

    def formats_for(self, field: str) -> list[str]:
        """Timestamp formats tried, in order, for one target field."""
        return self.timestamp_formats_by_field.get(field, self.timestamp_formats)

    @property
    def pii_columns(self) -> list[str]:
        """Source columns that are personal identifiers: never stored, even in quarantine."""
        return [*self.reporter_name_columns, *self.reporter_id_columns]


class KpiProfile(StrictModel):
    """Mapping of a KPI table (long, or one row per indicator-month) to raw.kpi_observations."""

    kind: Literal["kpi_csv"]
    name: str
    description: str = ""
    source: Literal["kpis"] = "kpis"
    match: list[str]
    delimiter: str = ","
    null_tokens: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "-", "null"])
    columns: dict[str, str]
    period_column: str | None = None
    period_format: str = "%Y-%m"
    period_year_column: str | None = None
    period_month_column: str | None = None
    desired_change_map: dict[str, str] = Field(default_factory=lambda: {"U": "U", "D": "D"})
    agency_default: str | None = None


class Question(StrictModel):
    """One survey question column."""

    id: str
    column: str
    text: str = ""
    consideration: int | None = None
    scale_min: float = 1
    scale_max: float = 5
    top_box: float | None = None
    labels: dict[str, float] = Field(default_factory=dict)
    missing_codes: list[str] = Field(default_factory=list)
    multi_select_separator: str | None = None
    options: dict[str, str] = Field(default_factory=dict)
    indicator: str | None = None
    waves: list[str] = Field(default_factory=list)

    @field_validator("waves", mode="before")
    @classmethod
    def _waves_as_text(cls, value: object) -> object:
        # YAML reads `waves: [2015]` as integers; a wave is the text of the wave column, and
        # "2024q1" is the same wave as "2024Q1".
        if isinstance(value, list):
            return [str(item).strip().upper() for item in value]
        return value

    @field_validator("waves")
    @classmethod
    def _waves_well_formed(cls, value: list[str]) -> list[str]:
        for wave in value:
            if not re.match(WAVE_PATTERN, wave):
                raise ValueError(f"wave {wave!r} is not YYYY or YYYYQn (n 1-4)")
        return value

    def asked_in(self, wave: str) -> bool:
        """Whether the codebook says this question was asked in a wave (no ``waves``: every wave)."""
        return not self.waves or wave.strip().upper() in self.waves


class Demographic(StrictModel):
    """One demographic: first non-missing of ``columns``, then ``map`` (unmapped -> null)."""

    columns: list[str]
    map: dict[str, str] = Field(default_factory=dict)
    keep_unmapped: bool = False


class SurveyCodebook(StrictModel):
    """Wide survey CSV -> raw.survey_respondents + raw.survey_answers (see codebooks/README.md)."""

    kind: Literal["survey_codebook"] = "survey_codebook"
    name: str
    description: str = ""
    source: Literal["survey"] = "survey"
    match: list[str] = Field(default_factory=lambda: ["survey_*.csv"])
    delimiter: str = ","
    respondent_id_column: str
    wave_column: str | None = None
    wave_from_filename: str | None = None
    missing_codes: list[str] = Field(
        default_factory=lambda: ["", "NA", "N/A", "Refused", "Don't know", "DK", "R", "99"]
    )
    questions: list[Question]
    demographics: dict[DemographicName, Demographic] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _indicator_mappings_valid(self) -> SurveyCodebook:
        for question in self.questions:
            if question.indicator is not None:
                self._check_indicator(question)
        mapped = sorted(
            (q for q in self.questions if q.indicator is not None), key=lambda q: q.indicator or ""
        )
        for indicator, group in itertools.groupby(mapped, key=lambda q: q.indicator):
            for first, second in itertools.combinations(list(group), 2):
                shared = _shared_waves(first, second)
                if shared:
                    raise ValueError(
                        f"indicator {indicator!r} is mapped by questions {first.id!r} and "
                        f"{second.id!r} in the same wave ({shared}); one question per indicator "
                        "and wave: give the questions disjoint `waves`, or map only one"
                    )
        return self

    def _check_indicator(self, question: Question) -> None:
        indicator = question.indicator or ""
        sources = catalogue_sources()
        where = f"question {question.id!r}: indicator {indicator!r}"
        if indicator not in sources:
            catalogue = INDICATOR_CATALOG.relative_to(PROJECT_ROOT)
            raise ValueError(f"{where} is not in the indicator catalogue ({catalogue})")
        if indicator in DERIVED_SURVEY_INDICATORS:
            raise ValueError(
                f"{where} cannot be mapped to a question: {DERIVED_SURVEY_INDICATORS[indicator]}"
            )
        if indicator not in QUESTION_INDICATORS:
            raise ValueError(
                f"{where} is not computed from survey answers (its catalogue source is "
                f"{sources[indicator]!r})"
            )
        if question.multi_select_separator is not None:
            raise ValueError(f"{where}: a multi-select question has no single top box to measure")
        missing = [name for name in QUESTION_INDICATORS[indicator] if name not in self.demographics]
        if missing:
            raise ValueError(
                f"{where} groups respondents by {', '.join(missing)}: declare it under demographics"
            )


def _shared_waves(first: Question, second: Question) -> str:
    """The waves two questions are both asked in, in words ('' when none)."""
    if not first.waves and not second.waves:
        return "every wave"
    if not first.waves or not second.waves:
        return ", ".join(first.waves or second.waves)
    return ", ".join(sorted(set(first.waves) & set(second.waves)))


Profile = FeedbackProfile | KpiProfile | SurveyCodebook
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_profile(path: str | Path) -> Profile:
    """Parse one profile or codebook YAML into its model (cached until the file changes)."""
    resolved = Path(path).resolve()
    return _load_profile_cached(resolved, resolved.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _load_profile_cached(path: Path, mtime_ns: int) -> Profile:
    # mtime_ns is part of the cache key so that an edited profile is read again.
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        # An empty file loads as None, a list as a list: neither has keys to validate.
        raise ValueError(f"{path}: a profile is a YAML mapping of keys, not {type(document).__name__}")
    kind = document.get("kind", "survey_codebook")
    if kind in {"feedback_csv", "open311_json"}:
        return FeedbackProfile.model_validate(document)
    if kind == "kpi_csv":
        return KpiProfile.model_validate(document)
    if kind == "survey_codebook":
        return SurveyCodebook.model_validate(document)
    raise ValueError(f"{path}: unknown profile kind {kind!r}")


def resolve_profile(profile: str | Path) -> Profile:
    """A profile given by path, or by name of a shipped profile/codebook (``nyc311``)."""
    candidate = Path(profile)
    if candidate.suffix in {".yaml", ".yml"} and candidate.exists():
        return load_profile(candidate)
    for folder in (PROFILES_DIR, CODEBOOKS_DIR):
        shipped = folder / f"{profile}.yaml"
        if shipped.exists():
            return load_profile(shipped)
    raise FileNotFoundError(f"no profile file or shipped profile named {profile!r}")


def shipped_profiles(source: str, extra_dirs: tuple[Path, ...] = ()) -> list[Profile]:
    """Every shipped (and extra) profile for a source, in file-name order."""
    found: list[Profile] = []
    for folder in (*extra_dirs, PROFILES_DIR, CODEBOOKS_DIR):
        for path in sorted(folder.glob("*.yaml")):
            candidate = load_profile(path)
            if candidate.source == source:
                found.append(candidate)
    return found


def match_profile(file_name: str, profiles: list[Profile]) -> Profile | None:
    """The first profile whose ``match`` globs fit the file name."""
    for candidate in profiles:
        if any(fnmatch.fnmatch(file_name, pattern) for pattern in candidate.match):
            return candidate
    return None
