"""Tests for pipelines.analytics: raking and estimates, Theil's T, sentiment and topics.

The references here (numpy IPF, numpy Theil) are written independently of the field libraries
the modules use, so a change in weightipy's or PySAL's internals shows up as a disagreement.
"""

from __future__ import annotations

import math
import socket
import time
import warnings

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from pipelines.analytics import text as text_module
from pipelines.analytics.equity import TheilSplit, theil_decomposition, theil_t
from pipelines.analytics.text import fit_topics, score_feedback_text, sentiment_scores
from pipelines.analytics.weighting import (
    EmptyCategoryWarning,
    RakingError,
    TrimmingWarning,
    design_effect,
    kish_effective_n,
    population_margins,
    rake_weights,
    survey_weights,
    weighted_share,
)
from pipelines.settings import Settings

NO_TRIM = (0.0, math.inf)
DISTRICTS = ("D01", "D02", "D03", "D04")
AGE_BANDS = ("18-34", "35-54", "55-74", "75+")
SEXES = ("F", "M")


# --------------------------------------------------------------------------------------------
# Reference implementations (plain numpy, independent of weightipy and PySAL)
# --------------------------------------------------------------------------------------------


def numpy_ipf(
    categories: dict[str, np.ndarray],
    margins: dict[str, dict[str, float]],
    seed: np.ndarray,
    sweeps: int = 5000,
) -> np.ndarray:
    """Textbook IPF: per sweep, scale each margin's categories to their population totals."""
    w = seed.astype(float).copy()
    for _ in range(sweeps):
        previous = w.copy()
        for var, cells in margins.items():
            for category, total in cells.items():
                members = categories[var] == category
                w[members] *= total / w[members].sum()
        if np.max(np.abs(w - previous)) < 1e-13 * np.max(w):
            break
    return w


def numpy_theil(x: np.ndarray) -> float:
    """T = mean((x/mu) ln(x/mu)) with 0 ln 0 = 0."""
    r = x / x.mean()
    safe = np.where(r > 0, r, 1.0)
    return float(np.mean(np.where(r > 0, r * np.log(safe), 0.0)))


def numpy_theil_split(x: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """Between = T of group means (unit-weighted); within = sum of value-share-weighted T_g."""
    total = numpy_theil(x)
    between = within = 0.0
    for g in np.unique(groups):
        xg = x[groups == g]
        share = xg.sum() / x.sum()
        between += share * math.log(share * x.size / xg.size)
        within += share * numpy_theil(xg)
    return total, between, within


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def make_population(seed: int = 1) -> pl.DataFrame:
    """raw.population-shaped frame: 4 districts x 4 age bands x 2 sexes."""
    rng = np.random.default_rng(seed)
    rows = [(d, a, s, int(rng.integers(500, 5000))) for d in DISTRICTS for a in AGE_BANDS for s in SEXES]
    return pl.DataFrame(rows, schema=["district_code", "age_band", "sex", "population"], orient="row")


def make_sample(
    n: int,
    seed: int,
    district_p: tuple[float, ...] = (0.4, 0.25, 0.2, 0.15),
    age_p: tuple[float, ...] = (0.15, 0.25, 0.3, 0.3),
    sex_p: tuple[float, ...] = (0.6, 0.4),
) -> pl.DataFrame:
    """Respondents with skewed demographics and the derived age_sex column."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "respondent_id": [f"R{seed}-{i:04d}" for i in range(n)],
            "district_code": rng.choice(DISTRICTS, n, p=district_p),
            "age_band": rng.choice(AGE_BANDS, n, p=age_p),
            "sex": rng.choice(SEXES, n, p=sex_p),
        }
    ).with_columns(age_sex=pl.concat_str("age_band", "sex", separator="|"))


def categories_of(sample: pl.DataFrame, margins: dict[str, dict[str, float]]) -> dict:
    """Category arrays for the numpy reference."""
    return {var: sample[var].to_numpy() for var in margins}


def margin_gaps(sample: pl.DataFrame, weights: np.ndarray, margins: dict[str, dict[str, float]]) -> float:
    """Largest relative gap between weighted category totals and the margins."""
    worst = 0.0
    for var, cells in margins.items():
        column = sample[var].to_numpy()
        for category, total in cells.items():
            worst = max(worst, abs(weights[column == category].sum() - total) / total)
    return worst


# --------------------------------------------------------------------------------------------
# Weighting
# --------------------------------------------------------------------------------------------


def test_rake_weights_match_numpy_ipf_without_trimming() -> None:
    margins = population_margins(make_population())
    sample = make_sample(300, seed=7)
    got = rake_weights(sample, margins, trim=NO_TRIM).to_numpy()
    expected = numpy_ipf(categories_of(sample, margins), margins, np.ones(sample.height))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    assert got.sum() == pytest.approx(sum(margins["district_code"].values()), rel=1e-12)


def test_rake_weights_use_base_weights_as_seed() -> None:
    margins = population_margins(make_population())
    rng = np.random.default_rng(3)
    sample = make_sample(300, seed=8).with_columns(design=pl.Series(rng.uniform(0.5, 2.0, 300)))
    got = rake_weights(sample, margins, base_weight="design", trim=NO_TRIM).to_numpy()
    expected = numpy_ipf(categories_of(sample, margins), margins, sample["design"].to_numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    unseeded = rake_weights(sample, margins, trim=NO_TRIM).to_numpy()
    assert np.max(np.abs(got / unseeded - 1)) > 0.05  # the seed really changed the answer


def test_trimming_meets_bounds_and_margins_when_feasible() -> None:
    margins = population_margins(make_population())
    sample = make_sample(400, seed=3)
    mean_weight = sum(margins["district_code"].values()) / sample.height
    untrimmed = rake_weights(sample, margins, trim=NO_TRIM).to_numpy()
    assert untrimmed.max() > 2.0 * mean_weight and untrimmed.min() < 0.5 * mean_weight
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a feasible fixture must not fall back
        trimmed = rake_weights(sample, margins, trim=(0.5, 2.0)).to_numpy()
    assert trimmed.min() >= 0.5 * mean_weight * (1 - 1e-6)
    assert trimmed.max() <= 2.0 * mean_weight * (1 + 1e-6)
    assert margin_gaps(sample, trimmed, margins) < 1e-9


def test_infeasible_trimming_keeps_margins_and_warns() -> None:
    margins = population_margins(make_population())
    # 5 % of the sample in D04 against ~22 % of the population: weights of 4+ x the mean needed.
    sample = make_sample(400, seed=5, district_p=(0.55, 0.25, 0.15, 0.05))
    with pytest.warns(TrimmingWarning, match="exceed"):
        weights = rake_weights(sample, margins, trim=(0.3, 3.0)).to_numpy()
    assert margin_gaps(sample, weights, margins) < 1e-9


def test_unknown_or_null_category_is_an_error_naming_the_respondent() -> None:
    margins = population_margins(make_population())
    sample = make_sample(50, seed=1)
    bad = sample.with_columns(
        district_code=pl.when(pl.col("respondent_id") == "R1-0007")
        .then(pl.lit("D99"))
        .otherwise("district_code")
    )
    with pytest.raises(RakingError, match=r"R1-0007.*") as info:
        rake_weights(bad, margins)
    assert "D99" in str(info.value)
    null_sex = sample.with_columns(
        age_sex=pl.when(pl.col("respondent_id") == "R1-0011").then(None).otherwise("age_sex")
    )
    with pytest.raises(RakingError, match="R1-0011"):
        rake_weights(null_sex, margins)


def test_inconsistent_margin_totals_are_rejected() -> None:
    margins = population_margins(make_population())
    margins["age_sex"] = {k: v * 1.1 for k, v in margins["age_sex"].items()}
    with pytest.raises(RakingError, match="different populations"):
        rake_weights(make_sample(100, seed=2), margins)


def test_empty_margin_category_is_spread_over_the_others() -> None:
    margins = population_margins(make_population())
    sample = make_sample(300, seed=4).filter(pl.col("district_code") != "D04")
    with pytest.warns(EmptyCategoryWarning, match="D04"):
        weights = rake_weights(sample, margins, trim=NO_TRIM).to_numpy()
    total = sum(margins["district_code"].values())
    assert weights.sum() == pytest.approx(total, rel=1e-12)
    kept = {k: v for k, v in margins["district_code"].items() if k != "D04"}
    scale = total / sum(kept.values())
    rescaled = {"district_code": {k: v * scale for k, v in kept.items()}, "age_sex": margins["age_sex"]}
    assert margin_gaps(sample, weights, rescaled) < 1e-9


def test_survey_weights_contract_columns_and_rules() -> None:
    population = make_population()
    total = float(population["population"].sum())
    first = make_sample(300, seed=11).with_columns(wave=pl.lit("2024Q1"))
    second = make_sample(200, seed=12).with_columns(wave=pl.lit("2024Q2"))
    second = second.with_columns(
        age_band=pl.when(pl.col("respondent_id") == "R12-0003").then(None).otherwise("age_band")
    )
    respondents = pl.concat([first, second]).drop("age_sex")
    with pytest.warns(UserWarning, match="missing demographics"):
        out = survey_weights(respondents, population)
    assert out.columns == ["respondent_id", "wave", "base_weight", "raked_weight", "trimmed"]
    assert out.schema["trimmed"] == pl.Boolean and out.schema["raked_weight"] == pl.Float64
    assert out.height == respondents.height and out["trimmed"].null_count() == 0
    per_wave = out.group_by("wave").agg(pl.col("raked_weight").sum(), pl.col("base_weight").sum(), pl.len())
    for row in per_wave.iter_rows(named=True):
        assert row["raked_weight"] == pytest.approx(total, rel=1e-9)
        assert row["base_weight"] == pytest.approx(total, rel=1e-12)
    excluded = out.filter(pl.col("respondent_id") == "R12-0003").row(0, named=True)
    assert excluded["raked_weight"] is None and excluded["trimmed"] is False
    # Each wave meets the census margins on its own.
    margins = population_margins(population)
    joined = out.filter(pl.col("wave") == "2024Q1").join(first, on="respondent_id")
    assert margin_gaps(joined, joined["raked_weight"].to_numpy(), margins) < 1e-9


def test_survey_weights_unknown_district_names_respondent() -> None:
    respondents = make_sample(60, seed=2).with_columns(wave=pl.lit("2024Q1")).drop("age_sex")
    respondents = respondents.with_columns(
        district_code=pl.when(pl.col("respondent_id") == "R2-0005")
        .then(pl.lit("Ward 9"))
        .otherwise("district_code")
    )
    with pytest.raises(RakingError, match="R2-0005"):
        survey_weights(respondents, make_population())


def test_kish_and_design_effect_known_values() -> None:
    assert kish_effective_n([1.0, 1.0, 1.0, 1.0]) == pytest.approx(4.0)
    assert kish_effective_n(pl.Series([1.0, 3.0])) == pytest.approx(16 / 10)
    assert design_effect([1.0, 3.0]) == pytest.approx(2 / 1.6)
    w = np.random.default_rng(0).lognormal(0, 0.5, 1000)
    assert design_effect(w) == pytest.approx(1 + np.var(w) / np.mean(w) ** 2, rel=1e-12)
    with pytest.raises(ValueError):
        kish_effective_n([1.0, -1.0])


def test_weighted_share_known_value_and_interval() -> None:
    p, low, high = weighted_share(pl.Series([True, False, None]), [3.0, 1.0, 5.0])
    assert p == pytest.approx(0.75)
    half = 1.959963984540054 * math.sqrt(0.75 * 0.25 / 1.6)
    assert (low, high) == pytest.approx((max(0.0, 0.75 - half), min(1.0, 0.75 + half)))
    assert all(math.isnan(v) for v in weighted_share([], []))
    with pytest.raises(ValueError):
        weighted_share([0.5, 1.0], [1.0, 1.0])


def test_weighting_recovers_population_share_better_than_unweighted() -> None:
    """A deliberately skewed sample: young people and D01 over-represented, and they differ."""
    population = make_population(seed=21)
    margins = population_margins(population)
    # The outcome (e.g. "satisfied") depends on age and district, so the skew biases the mean.
    p_age = {"18-34": 0.25, "35-54": 0.45, "55-74": 0.65, "75+": 0.8}
    p_district = {"D01": -0.15, "D02": 0.0, "D03": 0.05, "D04": 0.1}
    cells = population.with_columns(
        p=pl.col("age_band").replace_strict(p_age) + pl.col("district_code").replace_strict(p_district)
    )
    true_share = float((cells["p"] * cells["population"]).sum() / cells["population"].sum())

    rng = np.random.default_rng(99)
    unweighted_errors, weighted_errors, covered = [], [], 0
    for replicate in range(20):
        sample = make_sample(
            800,
            seed=1000 + replicate,
            district_p=(0.45, 0.25, 0.2, 0.1),
            age_p=(0.45, 0.3, 0.17, 0.08),
        ).join(cells.select("district_code", "age_band", "sex", "p"), on=["district_code", "age_band", "sex"])
        y = rng.random(sample.height) < sample["p"].to_numpy()
        w = rake_weights(sample, margins, trim=NO_TRIM).to_numpy()
        estimate, low, high = weighted_share(y, w)
        unweighted_errors.append(abs(y.mean() - true_share))
        weighted_errors.append(abs(estimate - true_share))
        covered += low <= true_share <= high
    assert np.mean(unweighted_errors) > 0.08  # the skew really biases the raw mean
    assert np.mean(weighted_errors) < 0.25 * np.mean(unweighted_errors)
    assert covered >= 16  # ~95 % nominal coverage over 20 replicates


# --------------------------------------------------------------------------------------------
# Equity
# --------------------------------------------------------------------------------------------


def test_theil_matches_numpy_reference_and_known_values() -> None:
    rng = np.random.default_rng(5)
    x = rng.lognormal(0, 0.8, 200)
    x[:3] = 0.0  # zeros are allowed: 0 ln 0 = 0
    assert theil_t(x) == pytest.approx(numpy_theil(x), rel=1e-12, abs=1e-12)
    assert theil_t([2.0, 2.0, 2.0]) == pytest.approx(0.0, abs=1e-15)
    assert theil_t(pl.Series([0.0, 0.0, 0.0, 5.0])) == pytest.approx(math.log(4))
    with pytest.raises(ValueError):
        theil_t([1.0, -1.0])
    with pytest.raises(ValueError):
        theil_t(pl.Series([1.0, None]))


def test_theil_decomposition_matches_numpy_reference() -> None:
    rng = np.random.default_rng(6)
    groups = rng.choice(["D01", "D02", "D03"], 300)
    x = rng.lognormal(0, 0.5, 300) * np.where(groups == "D03", 2.5, 1.0)
    split = theil_decomposition(x, pl.Series(groups))
    total, between, within = numpy_theil_split(x, groups)
    assert isinstance(split, TheilSplit)
    assert split.total == pytest.approx(total, rel=1e-12)
    assert split.between == pytest.approx(between, rel=1e-10)
    assert split.within == pytest.approx(within, rel=1e-10)
    assert split.between > 0.02  # the planted group difference shows up between groups
    with pytest.raises(ValueError):
        theil_decomposition(x, groups[:-1])


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

POSITIVE = [
    "Great job, the crew fixed it fast. Thank you so much!",
    "Excellent service, very happy with the quick response.",
    "The new bench is lovely and the park looks wonderful.",
]
NEGATIVE = [
    "Terrible. Nobody came for three weeks and the hole is dangerous.",
    "Awful service, I am angry and disappointed.",
    "The smell is horrible and the bins are disgusting.",
]


def test_sentiment_signs_and_nulls(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("VADER tried to use the network")

    # The lexicon must load from the installed package with the network cut off.
    monkeypatch.setattr(socket.socket, "connect", no_network)
    text_module._analyzer.cache_clear()
    texts = pl.Series([*POSITIVE, *NEGATIVE, None, "", "   ", "[EMAIL] [PHONE]"])
    scores = sentiment_scores(texts)
    assert scores.dtype == pl.Float64
    assert all(s > 0.3 for s in scores[:3].to_list())
    assert all(s < -0.3 for s in scores[3:6].to_list())
    assert scores[6:].null_count() == 4
    assert scores.drop_nulls().is_between(-1, 1).all()


def test_sentiment_distinct_path_equals_naive_per_row() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    rng = np.random.default_rng(2)
    pool = [*POSITIVE, *NEGATIVE, "Streetlight out on [ADDRESS], call [NAME] at [PHONE]", None]
    texts = pl.Series([pool[i] for i in rng.integers(0, len(pool), 500)])
    analyzer = SentimentIntensityAnalyzer()
    cleaned = text_module.clean_texts(texts).to_list()
    naive = [None if t is None else analyzer.polarity_scores(t)["compound"] for t in cleaned]
    assert sentiment_scores(texts).to_list() == naive


def _count_in_process_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the texts this process's analyzer scores (a spawned worker has its own)."""
    seen: list[str] = []
    analyzer = text_module._analyzer()
    original = analyzer.polarity_scores

    def recording(text: str) -> dict[str, float]:
        seen.append(text)
        return original(text)

    monkeypatch.setattr(analyzer, "polarity_scores", recording)
    return seen


def test_sentiment_process_pool_equals_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    planted, _ = planted_topic_texts(n=300, seed=3)
    moods = [*POSITIVE, *NEGATIVE]
    # Mixed moods and exclamation marks: many different scores, so a chunk out of order shows.
    texts = pl.Series(
        [f"{text} {moods[i % 6]} {moods[i // 6 % 6]}" + "!" * (i % 4) for i, text in enumerate(planted)]
    )
    texts = pl.concat([texts, pl.Series([*moods, None, "", "[NAME]"]), texts.head(50)])
    serial = sentiment_scores(texts, workers=1, parallel_min_texts=1)

    seen = _count_in_process_calls(monkeypatch)
    parallel = sentiment_scores(texts, workers=2, parallel_min_texts=1)
    assert seen == []  # every text went to the pool
    assert parallel.dtype == pl.Float64 and parallel.name == "sentiment"
    assert parallel.to_list() == serial.to_list()  # the same floats, in row order
    assert parallel.null_count() == 3


def test_sentiment_one_worker_stays_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("started a process pool")

    monkeypatch.setattr(text_module, "ProcessPoolExecutor", no_pool)
    seen = _count_in_process_calls(monkeypatch)
    texts = pl.Series([*POSITIVE, *NEGATIVE, POSITIVE[0]])
    sentiment_scores(texts, workers=1, parallel_min_texts=1)
    assert sorted(seen) == sorted(set(texts.to_list()))
    # Below the threshold, the number of workers does not matter either.
    sentiment_scores(texts, workers=2)
    assert len(seen) == 2 * len(set(texts.to_list()))


def test_text_workers_default_to_the_usable_cpus_and_come_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert 1 <= text_module.default_text_workers() <= text_module.MAX_TEXT_WORKERS
    monkeypatch.setenv("CIVICLOOP_TEXT_WORKERS", "12")  # explicit: above the default cap
    assert Settings().text_workers == 12
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("CIVICLOOP_TEXT_WORKERS", bad)
        with pytest.raises(ValidationError):
            Settings()


TOPIC_WORDS = {
    "roads": ["pothole", "asphalt", "road", "crater", "pavement", "tyre"],
    "waste": ["garbage", "bins", "collection", "trash", "recycling", "rubbish"],
    "lights": ["streetlight", "lamp", "dark", "bulb", "lighting", "flickering"],
}
FILLER = ["the", "is", "on", "my", "again", "near", "since", "week", "very", "this"]
PLACEHOLDERS = ["[EMAIL]", "[PHONE]", "[ADDRESS]", "[NAME]"]


def planted_topic_texts(n: int = 200, seed: int = 0) -> tuple[pl.Series, list[str]]:
    """Synthetic 311 texts from three vocabularies, with filler, stop words and placeholders."""
    rng = np.random.default_rng(seed)
    texts, truth = [], []
    for i in range(n):
        topic = list(TOPIC_WORDS)[i % 3]
        words = list(rng.choice(TOPIC_WORDS[topic], 4)) + list(rng.choice(FILLER, 4))
        # Placeholders are frequent and, as in real reports, tied to the topic (a pothole comes
        # with an address): without the clean-up they would top the topic word lists.
        words += [PLACEHOLDERS[i % 3]] * 3 + list(rng.choice(PLACEHOLDERS, 1))
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {i}")  # numbers must not become topic words either
        truth.append(topic)
    return pl.Series(texts), truth


def test_three_planted_topics_are_recovered() -> None:
    texts, truth = planted_topic_texts()
    model = fit_topics(texts, n_topics=3, seed=0)
    assigned = model.assign(texts)
    assert assigned.columns == ["topic_id", "topic_label"]
    assert assigned["topic_id"].null_count() == 0
    frame = pl.DataFrame({"truth": truth, "topic": assigned["topic_id"]})
    # Each planted topic maps to one fitted topic, and the three fitted topics are distinct.
    majority = frame.group_by("truth").agg(
        pl.col("topic").mode().first(), purity=(pl.col("topic") == pl.col("topic").mode().first()).mean()
    )
    assert majority["topic"].n_unique() == 3
    assert majority["purity"].min() >= 0.95
    banned = {"email", "phone", "address", "name", *FILLER}
    for label, topic in zip(model.labels, majority.sort("topic")["truth"], strict=True):
        words = label.split(", ")
        assert len(words) == 3
        assert not banned & set(words), label
        assert set(words) <= set(TOPIC_WORDS[topic]), (label, topic)


def test_topics_are_deterministic_and_ignore_row_order() -> None:
    texts, _ = planted_topic_texts(seed=4)
    first = fit_topics(texts, n_topics=3, seed=0)
    shuffled = fit_topics(texts.sample(fraction=1.0, shuffle=True, seed=9), n_topics=3, seed=0)
    assert first.labels == shuffled.labels
    unknown = first.assign(pl.Series(["zzz qqq", None, "pothole crater asphalt"]))
    assert unknown["topic_id"][:2].to_list() == [None, None]
    assert unknown["topic_label"][2] is not None


def test_score_feedback_text_contract_and_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """300k rows, ~2k distinct texts: VADER runs once per distinct text; report the time."""
    rng = np.random.default_rng(8)
    topics = list(TOPIC_WORDS)
    distinct = []
    for i in range(2000):
        topic = topics[i % 3]
        mood = ["great work thanks", "still broken, awful", "please check"][i % 3]
        words = " ".join(rng.choice(TOPIC_WORDS[topic], 3))
        distinct.append(f"{words} {mood} {rng.choice(PLACEHOLDERS)} ref {i}")
    picks = rng.integers(0, len(distinct), 300_000)
    descriptions = pl.Series("description", distinct).gather(picks)
    descriptions = descriptions.scatter([0, 1], [None, ""])
    requests = pl.DataFrame({"request_id": [f"Q{i}" for i in range(300_000)], "description": descriptions})

    calls = 0
    analyzer = text_module._analyzer()
    original = analyzer.polarity_scores

    def counting(text: str) -> dict[str, float]:
        nonlocal calls
        calls += 1
        return original(text)

    monkeypatch.setattr(analyzer, "polarity_scores", counting)
    started = time.perf_counter()
    out = score_feedback_text(requests)
    elapsed = time.perf_counter() - started
    print(f"\nscore_feedback_text: 300,000 rows / 2,000 distinct texts in {elapsed:.2f} s")

    assert out.columns == ["request_id", "sentiment", "topic_id", "topic_label"]
    assert out.schema["topic_id"] == pl.Int32 and out.schema["sentiment"] == pl.Float64
    assert out["request_id"].to_list() == requests["request_id"].to_list()
    assert calls <= 2000  # once per distinct cleaned text, never per row
    assert out["sentiment"].null_count() == 2 and out["topic_id"].null_count() == 2
    assert out["topic_label"].drop_nulls().n_unique() >= 3
    assert elapsed < 60
