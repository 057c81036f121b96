"""The survey source: wide CSV + codebook YAML -> raw.survey_respondents, answers and questions.

raw.survey_questions records what each wave asked and the catalogue indicator a question measures.

The codebook schema is documented in ``codebooks/README.md``. A codebook delivered in the inbox
(``codebook.yaml``) is configuration, not data: it stays in the inbox and takes precedence over
the shipped codebooks for the files it matches.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from pipelines.ingest.decoding import UnreadableFileError, read_csv_text
from pipelines.ingest.loader import LoadContext, ParsedFile, TableWrite
from pipelines.ingest.profiles import (
    WAVE_PATTERN,
    DemographicName,
    Question,
    SurveyCodebook,
    load_profile,
    match_profile,
    shipped_profiles,
)
from pipelines.ingest.validation import (
    LINE,
    failing,
    implausible_date_reason,
    normalise_district_key,
    reason_if,
    source,
    split_rows,
    with_source_prefix,
    without_null_tokens,
)

RESPONDENT_COLUMNS = [
    "respondent_id",
    "wave",
    "period_start",
    "district_code",
    "age_band",
    "sex",
    "digital_access",
    "source_file",
]
ANSWER_COLUMNS = [
    "respondent_id",
    "wave",
    "question_id",
    "consideration",
    "value",
    "scale_min",
    "scale_max",
    "agree",
]
QUESTION_COLUMNS = [
    "wave",
    "period_start",
    "question_id",
    "question_text",
    "consideration",
    "scale_min",
    "scale_max",
    "top_box",
    "indicator_id",
    "codebook",
    "source_file",
]
TRUE_WORDS = ["true", "yes", "y", "1"]


def survey_config_files(folder: Path) -> list[Path]:
    """Codebooks delivered in the survey inbox (kept there as configuration)."""
    return sorted([*folder.glob("*codebook*.yaml"), *folder.glob("*codebook*.yml")])


def survey_codebook_for(path: Path) -> SurveyCodebook:
    """Inbox codebooks first, then shipped ones; the first whose ``match`` fits the file name."""
    delivered = []
    for candidate in survey_config_files(path.parent):
        try:
            delivered.append(load_profile(candidate))
        except ValueError as error:
            # A broken delivered codebook must not silently fall back to a shipped one.
            raise UnreadableFileError(
                f"survey codebook {candidate.name} in the inbox is invalid, fix or remove it: {error}"
            ) from error
    codebook = match_profile(path.name, [*delivered, *shipped_profiles("survey")])
    if not isinstance(codebook, SurveyCodebook):
        raise UnreadableFileError(f"no survey codebook matches file name {path.name!r}")
    return codebook


def _answer_value(question: Question, text: pl.Expr) -> pl.Expr:
    labels = {key.strip().lower(): float(value) for key, value in question.labels.items()}
    labelled = text.str.to_lowercase().replace_strict(labels, default=None, return_dtype=pl.Float64)
    return pl.coalesce(labelled, text.cast(pl.Float64, strict=False))


def _wave(codebook: SurveyCodebook, file_name: str, present: set[str]) -> pl.Expr:
    if codebook.wave_column and codebook.wave_column in present:
        return without_null_tokens(source(codebook.wave_column), codebook.missing_codes)
    if codebook.wave_from_filename:
        import re

        try:
            found = re.search(codebook.wave_from_filename, file_name)
        except re.error as error:
            raise UnreadableFileError(
                f"codebook {codebook.name!r}: wave_from_filename is not a valid regex: {error}"
            ) from error
        if found and found.groups():
            return pl.lit(found.group(1))
    raise UnreadableFileError(
        f"survey wave: no column {codebook.wave_column!r} and no wave in file name {file_name!r}"
    )


def _period_start(wave: pl.Expr) -> pl.Expr:
    year = wave.str.extract(r"(\d{4})").cast(pl.Int32, strict=False)
    quarter = wave.str.extract(r"[Qq]([1-4])").cast(pl.Int8, strict=False).fill_null(1)
    return pl.date(year, (quarter - 1) * 3 + 1, 1)


def parse_survey(
    frame: pl.DataFrame,
    codebook: SurveyCodebook,
    district_aliases: pl.LazyFrame,
    source_file: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """(respondents, answers, quarantined) lazy frames for one wide survey file."""
    latest = (now or dt.datetime.now()).date()
    present = set(frame.columns)
    if codebook.respondent_id_column not in present:
        raise UnreadableFileError(f"respondent id column {codebook.respondent_id_column!r} missing")
    questions = [question for question in codebook.questions if question.column in present]
    if not questions:
        raise UnreadableFileError(f"none of codebook {codebook.name!r}'s question columns is in the file")

    def answer_text(question: Question) -> pl.Expr:
        return without_null_tokens(
            source(question.column), [*codebook.missing_codes, *question.missing_codes]
        )

    def demographic(name: DemographicName) -> pl.Expr:
        rule = codebook.demographics.get(name)
        if rule is None:
            return pl.lit(None, dtype=pl.String)
        columns = [column for column in rule.columns if column in present]
        if not columns:
            return pl.lit(None, dtype=pl.String)
        value = pl.coalesce(
            [without_null_tokens(source(column), codebook.missing_codes) for column in columns]
        )
        if not rule.map:
            return value
        mapped = value.replace_strict(rule.map, default=None, return_dtype=pl.String)
        return pl.coalesce(mapped, value) if rule.keep_unmapped else mapped

    wave = _wave(codebook, source_file, present)
    scored = [q for q in questions if q.multi_select_separator is None]
    typed = (
        with_source_prefix(frame.lazy())
        .with_columns(
            without_null_tokens(source(codebook.respondent_id_column), codebook.missing_codes).alias(
                "respondent_id"
            ),
            wave.alias("wave"),
            demographic("age_band").alias("age_band"),
            demographic("sex").alias("sex"),
            demographic("digital_access").str.to_lowercase().is_in(TRUE_WORDS).alias("_digital"),
            demographic("digital_access").alias("_txt_digital"),
            demographic("district_code").alias("_txt_district"),
            *[answer_text(q).alias(f"_txt_{q.id}") for q in questions],
            *[_answer_value(q, answer_text(q)).alias(f"_value_{q.id}") for q in scored],
            pl.lit(source_file).alias("source_file"),
        )
        .with_columns(
            _period_start(pl.col("wave")).alias("period_start"),
            pl.when(pl.col("_txt_digital").is_null())
            .then(None)
            .otherwise(pl.col("_digital"))
            .alias("digital_access"),
            normalise_district_key(pl.col("_txt_district")).alias("_district_key"),
        )
        .join(
            district_aliases.unique("alias_normalised", keep="first"),
            left_on="_district_key",
            right_on="alias_normalised",
            how="left",
            maintain_order="left",
        )
    )
    reasons = [
        reason_if(pl.col("respondent_id").is_null(), "required respondent id is empty"),
        reason_if(
            pl.col("period_start").is_null(), pl.format("wave '{}' has no year", pl.col("wave").fill_null(""))
        ),
        # Anything but YYYY or YYYYQn would be silently read as some other quarter (2024Q9 as Q1).
        reason_if(
            pl.col("period_start").is_not_null()
            & ~pl.col("wave").str.contains(WAVE_PATTERN).fill_null(False),
            pl.format("wave '{}' is not YYYY or YYYYQn (n 1-4)", pl.col("wave")),
        ),
        implausible_date_reason("wave start", pl.col("period_start"), latest),
        reason_if(
            pl.col("_district_key").is_not_null() & pl.col("district_code").is_null(),
            pl.format(
                "unknown district '{}' (normalised '{}') is not in raw.district_aliases",
                pl.col("_txt_district"),
                pl.col("_district_key"),
            ),
        ),
    ]
    for question in questions:
        if question.waves:
            # A wave-specific column answered in another wave means the codebook's `waves` (and
            # so its indicator mapping) is wrong for this file: say so instead of mixing waves.
            reasons.append(
                reason_if(
                    pl.col(f"_txt_{question.id}").is_not_null()
                    & ~pl.col("wave")
                    .str.strip_chars()
                    .str.to_uppercase()
                    .is_in(question.waves)
                    .fill_null(False),
                    pl.format(
                        "{} (column {}) is answered in wave '{}', but the codebook asks it only in {}",
                        pl.lit(question.id),
                        pl.lit(question.column),
                        pl.col("wave"),
                        pl.lit(", ".join(question.waves)),
                    ),
                )
            )
    for question in scored:
        text, value = pl.col(f"_txt_{question.id}"), pl.col(f"_value_{question.id}")
        reasons.append(
            reason_if(
                text.is_not_null() & value.is_null(),
                pl.format(
                    "answer '{}' to {} (column {}) is neither a number nor a label of the codebook",
                    text,
                    pl.lit(question.id),
                    pl.lit(question.column),
                ),
            )
        )
        reasons.append(
            reason_if(
                value.is_not_null() & ~value.is_between(question.scale_min, question.scale_max),
                pl.format(
                    "answer {} to {} is outside the scale {}..{}",
                    value,
                    pl.lit(question.id),
                    pl.lit(question.scale_min),
                    pl.lit(question.scale_max),
                ),
            )
        )
    parsed = split_rows(
        typed, reasons, [*RESPONDENT_COLUMNS, LINE], [c for c in frame.columns if c != LINE], []
    )
    valid = typed.filter(~failing(reasons))
    return parsed.accepted, _answers(valid, questions), parsed.quarantined


def question_metadata(
    respondents: pl.DataFrame, codebook: SurveyCodebook, questions: list[Question], source_file: str
) -> pl.DataFrame:
    """raw.survey_questions rows: every question of the file in every wave of the file that asked it."""
    rows = []
    waves = respondents.select("wave", "period_start").unique().sort("wave").rows()
    for wave, period_start in waves:
        for question in questions:
            if not question.asked_in(wave):
                continue
            top_box = question.top_box if question.top_box is not None else question.scale_max
            common = {
                "wave": wave,
                "period_start": period_start,
                "question_text": question.text or None,
                "consideration": question.consideration,
                "codebook": codebook.name,
                "source_file": source_file,
            }
            if question.multi_select_separator is None:
                rows.append(
                    {
                        **common,
                        "question_id": question.id,
                        "scale_min": question.scale_min,
                        "scale_max": question.scale_max,
                        "top_box": top_box,
                        "indicator_id": question.indicator,
                    }
                )
                continue
            rows.extend(
                {
                    **common,
                    "question_id": f"{question.id}.{option_id}",
                    "scale_min": 0.0,
                    "scale_max": 1.0,
                    "top_box": 1.0,
                    "indicator_id": None,
                }
                for option_id in question.options.values()
            )
    schema = {
        "wave": pl.String,
        "period_start": pl.Date,
        "question_id": pl.String,
        "question_text": pl.String,
        "consideration": pl.Int32,
        "scale_min": pl.Float64,
        "scale_max": pl.Float64,
        "top_box": pl.Float64,
        "indicator_id": pl.String,
        "codebook": pl.String,
        "source_file": pl.String,
    }
    # LINE lets the loader keep one row per key when a batch holds two files of the same wave.
    return pl.DataFrame(rows, schema=schema).select(QUESTION_COLUMNS).with_row_index(LINE, offset=1)


def _answers(valid: pl.LazyFrame, questions: list[Question]) -> pl.LazyFrame:
    """Long answers: one row per respondent x answered question (multi-select: per option)."""
    parts = []
    for question in questions:
        top_box = question.top_box if question.top_box is not None else question.scale_max
        if question.multi_select_separator is None:
            parts.append(
                valid.select(
                    "respondent_id",
                    "wave",
                    LINE,
                    pl.lit(question.id).alias("question_id"),
                    pl.col(f"_value_{question.id}").alias("value"),
                    pl.lit(question.scale_min).alias("scale_min"),
                    pl.lit(question.scale_max).alias("scale_max"),
                    pl.lit(question.consideration, dtype=pl.Int32).alias("consideration"),
                    (pl.col(f"_value_{question.id}") >= top_box).alias("agree"),
                ).filter(pl.col("value").is_not_null())
            )
            continue
        chosen = (
            pl.col(f"_txt_{question.id}")
            .str.split(question.multi_select_separator)
            .list.eval(pl.element().str.strip_chars().str.to_lowercase())
        )
        for label, option_id in question.options.items():
            selected = chosen.list.contains(label.strip().lower())
            parts.append(
                valid.filter(pl.col(f"_txt_{question.id}").is_not_null()).select(
                    "respondent_id",
                    "wave",
                    LINE,
                    pl.lit(f"{question.id}.{option_id}").alias("question_id"),
                    selected.cast(pl.Float64).alias("value"),
                    pl.lit(0.0).alias("scale_min"),
                    pl.lit(1.0).alias("scale_max"),
                    pl.lit(question.consideration, dtype=pl.Int32).alias("consideration"),
                    selected.alias("agree"),
                )
            )
    return pl.concat(parts, how="vertical_relaxed").select([*ANSWER_COLUMNS, LINE])


def parse_survey_file(path: Path, text: str, context: LoadContext) -> ParsedFile:
    """Parse one wide survey file through its codebook."""
    codebook = survey_codebook_for(path)
    frame = read_csv_text(text, codebook.delimiter)
    respondents, answers, quarantined = parse_survey(
        frame, codebook, context.district_aliases(), path.name, now=context.now
    )
    respondents_df, answers_df, quarantined_df = pl.collect_all([respondents, answers, quarantined])
    present = set(frame.columns)
    questions = [question for question in codebook.questions if question.column in present]
    questions_df = question_metadata(respondents_df, codebook, questions, path.name)
    return ParsedFile(
        frame.height,
        respondents_df.height,
        [
            TableWrite("survey_respondents", respondents_df, ("respondent_id", "wave")),
            TableWrite("survey_answers", answers_df, ("respondent_id", "wave", "question_id")),
            # Keyed by file too: a wave delivered in several files records each file's questions,
            # and a later file never overwrites what an earlier one said.
            TableWrite("survey_questions", questions_df, ("wave", "question_id", "source_file")),
        ],
        quarantined_df,
    )
