"""Feedback text: VADER sentiment and TF-IDF + NMF topics, for ``raw.feedback_text_scores``.

Descriptions arrive redacted: personal data is replaced by placeholders such as ``[EMAIL]``,
``[PHONE]``, ``[ADDRESS]`` and ``[NAME]`` (``pipelines.ingest.privacy``). Placeholders are removed
before scoring: as topic words they would only say "someone left an e-mail address", and VADER
reads an all-capitals token as shouting, which boosts other capitalised words' sentiment.

Cost: 311 descriptions repeat a lot (templates, copy-paste, "pothole"), so every expensive step
runs once per DISTINCT cleaned text and is joined back; the per-row work is polars expressions.
VADER is pure Python (one interpreted call per text), so with many distinct texts it runs in a
pool of processes (:func:`sentiment_scores`).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Any bracketed upper-case token is a redaction placeholder: [EMAIL], [PHONE], [NAME], ...
PLACEHOLDER_PATTERN = r"\[[A-Z][A-Z_]*\]"
# Letters only, two or more: numbers (case ids, house numbers, dates) never name a topic.
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
# Courtesy words every kind of request uses; as topic words they would say nothing.
COURTESY_WORDS = frozenset({"please", "thanks", "thank", "hello", "hi", "regards", "dear"})
TOP_WORDS = 3

# Starting the worker pool costs ~0.9 s (a fresh interpreter importing polars, VADER and the
# caller's __main__) against ~85 µs of VADER per text: on the 2-core benchmark machine two
# workers only pay off from ~20,000 distinct texts (1M requests have ~67,000).
PARALLEL_MIN_TEXTS = 20_000
# A full build should leave cores to whatever else runs on a shared server; the setting
# (CIVICLOOP_TEXT_WORKERS) can ask for more.
MAX_TEXT_WORKERS = 8
# Several chunks per worker, so that one slow chunk does not leave the other workers idle.
CHUNKS_PER_WORKER = 4

FEEDBACK_TEXT_SCORES_SCHEMA = pl.Schema(
    {
        "request_id": pl.String(),
        "sentiment": pl.Float64(),
        "topic_id": pl.Int32(),
        "topic_label": pl.String(),
    }
)


def clean_texts(texts: pl.Series) -> pl.Series:
    """Remove redaction placeholders and squeeze whitespace; null when nothing is left.

    The regular expressions run once per distinct text and the result is mapped back: on 10M
    descriptions that is 3 s instead of 12 s, and every scoring step cleans its input.
    """
    raw = texts.cast(pl.String)
    distinct = raw.drop_nulls().unique()
    cleaned = (
        distinct.str.replace_all(PLACEHOLDER_PATTERN, " ").str.replace_all(r"\s+", " ").str.strip_chars()
    )
    kept = pl.select(pl.when(cleaned.str.len_chars() > 0).then(cleaned)).to_series()
    return raw.replace_strict(distinct, kept, default=None, return_dtype=pl.String).alias(texts.name)


def _distinct(cleaned: pl.Series) -> pl.Series:
    """Distinct non-null texts in a fixed (sorted) order, so results never depend on row order."""
    return cleaned.drop_nulls().unique().sort()


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """One VADER analyzer per process: building it parses the 7,506-entry lexicon file."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _compounds(texts: list[str]) -> list[float]:
    analyzer = _analyzer()
    return [analyzer.polarity_scores(text)["compound"] for text in texts]


def default_text_workers() -> int:
    """The CPUs this process may use, at most ``MAX_TEXT_WORKERS``."""
    # sched_getaffinity: the CPUs this process may run on (Linux); elsewhere, all of them.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, MAX_TEXT_WORKERS))


def sentiment_scores(
    texts: pl.Series, *, workers: int | None = None, parallel_min_texts: int = PARALLEL_MIN_TEXTS
) -> pl.Series:
    """VADER compound score in [-1, 1] per text; null for null, empty or placeholder-only texts.

    VADER runs once per distinct cleaned text (a Python call each, hence the dedupe) and the
    scores are mapped back onto the rows with a hash lookup. From ``parallel_min_texts``
    distinct texts on, the texts are split into chunks scored in a pool of ``workers`` processes
    (default: one per usable CPU, at most 8); ``workers=1`` keeps VADER in this process. The
    scores are the same either way.
    """
    cleaned = clean_texts(texts)
    distinct = _distinct(cleaned)
    workers = (workers or default_text_workers()) if distinct.len() >= parallel_min_texts else 1
    todo = distinct.to_list()
    if workers == 1:
        scores = _compounds(todo)
    else:
        size = -(-len(todo) // (workers * CHUNKS_PER_WORKER))
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        # Spawn, not fork: Dagster calls this from a process with threads, and a forked child
        # can inherit a lock that another thread held. map() keeps the chunks' (sorted) order.
        with ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_analyzer
        ) as pool:
            scores = list(chain.from_iterable(pool.map(_compounds, chunks)))
    return cleaned.replace_strict(distinct, scores, default=None, return_dtype=pl.Float64).alias("sentiment")


@dataclass(frozen=True)
class TopicModel:
    """A fitted TF-IDF + NMF topic model.

    Topic ids are ordered by prevalence in the training texts (0 = most prevalent), so the ids
    are stable for a given corpus and seed. ``labels[i]`` is topic ``i``'s top words joined by
    ``", "``.
    """

    vectorizer: TfidfVectorizer
    nmf: NMF
    component_order: tuple[int, ...]
    top_words: tuple[tuple[str, ...], ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Topic labels by topic id: the top words joined by ``", "``."""
        return tuple(", ".join(words) for words in self.top_words)

    def assign(self, texts: pl.Series) -> pl.DataFrame:
        """Strongest topic per text: ``topic_id`` (Int32) and ``topic_label`` (String).

        Null for null/empty texts and for texts sharing no vocabulary with the model.
        """
        cleaned = clean_texts(texts)
        distinct = _distinct(cleaned)
        ids: list[int | None] = []
        if distinct.len():
            loadings = self.nmf.transform(self.vectorizer.transform(distinct.to_list()))
            loadings = loadings[:, list(self.component_order)]
            # A text sharing no word with the vocabulary loads zero on every topic: no topic.
            ids = (
                pl.Series(loadings.argmax(axis=1), dtype=pl.Int32)
                .set(pl.Series(loadings.max(axis=1) <= 0), None)
                .to_list()
            )
        topic_id = cleaned.replace_strict(distinct, ids, default=None, return_dtype=pl.Int32)
        topic_label = topic_id.replace_strict(
            list(range(len(self.top_words))), list(self.labels), default=None, return_dtype=pl.String
        )
        return pl.DataFrame({"topic_id": topic_id, "topic_label": topic_label})


def fit_topics(texts: pl.Series, n_topics: int = 8, *, seed: int = 0, max_docs: int = 20_000) -> TopicModel:
    """Fit TF-IDF + NMF topics on a deterministic sample of the distinct cleaned texts.

    Distinct texts, because one template repeated ten thousand times is one voice, not ten
    thousand topics' worth of evidence, and because it bounds the cost. At most ``max_docs``
    texts, drawn with ``seed`` from the sorted distinct texts, so the same corpus and seed give
    the same model. English stop words, courtesy words, numbers and redaction placeholders never
    become topic words. If there are fewer distinct texts or terms than ``n_topics``, fewer
    topics are fitted (with a warning).

    Raises:
        ValueError: no usable text, or no vocabulary left after stop-word removal.

    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    if n_topics < 1:
        raise ValueError("n_topics must be at least 1")
    docs = _distinct(clean_texts(texts))
    if docs.len() > max_docs:
        docs = docs.sample(n=max_docs, seed=seed).sort()
    if docs.len() == 0:
        raise ValueError("no non-empty texts to fit topics on")
    many = docs.len() >= 50
    vectorizer = TfidfVectorizer(
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        stop_words=sorted(ENGLISH_STOP_WORDS | COURTESY_WORDS),
        # On a real corpus, words in a single text or in nearly all of them are noise; on a tiny
        # one (tests, a first day of data) those filters would leave nothing.
        min_df=2 if many else 1,
        max_df=0.9 if many else 1.0,
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform(docs.to_list())
    except ValueError as error:  # sklearn: "empty vocabulary; perhaps the documents only..."
        raise ValueError(f"no topic vocabulary in the texts: {error}") from error
    terms = vectorizer.get_feature_names_out()
    k = min(n_topics, matrix.shape[0], matrix.shape[1])
    if k < n_topics:
        warnings.warn(f"fitting {k} topics, not {n_topics}: too few texts or terms", stacklevel=2)
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    loadings = nmf.fit_transform(matrix)
    order = tuple(int(c) for c in np.argsort(-loadings.sum(axis=0), kind="stable"))
    # Only terms that load on the topic: a tiny corpus can leave fewer than TOP_WORDS of them,
    # and zero-weight terms would otherwise fill the label in vocabulary order.
    top_words = tuple(
        tuple(
            str(terms[t])
            for t in np.argsort(-nmf.components_[c], kind="stable")[:TOP_WORDS]
            if nmf.components_[c, t] > 0
        )
        for c in order
    )
    return TopicModel(vectorizer=vectorizer, nmf=nmf, component_order=order, top_words=top_words)


def score_feedback_text(
    requests: pl.DataFrame, n_topics: int = 8, *, model: TopicModel | None = None, workers: int | None = None
) -> pl.DataFrame:
    """``raw.feedback_text_scores`` rows: request_id, sentiment, topic_id, topic_label.

    One row per input request (in input order). Sentiment and topic are null where the
    description is null or empty; topics come from ``model`` when given (so that increments
    keep the ids and labels of the history), else are fitted on this batch's descriptions (see
    :func:`fit_topics`), and are all null, with a warning, if the batch has no topic vocabulary.
    """
    missing = {"request_id", "description"} - set(requests.columns)
    if missing:
        raise ValueError(f"requests lack columns {sorted(missing)}")
    # Every score depends on the text alone: score each distinct description once (a tenth of
    # the rows at 1M requests) and join the scores back, so cleaning runs on that tenth too.
    descriptions = requests["description"].cast(pl.String).unique().sort(nulls_last=True)
    sentiment = sentiment_scores(descriptions, workers=workers)
    topics: pl.DataFrame | None = None
    if clean_texts(descriptions).drop_nulls().len():
        try:
            topics = (model or fit_topics(descriptions, n_topics)).assign(descriptions)
        except ValueError as error:
            warnings.warn(f"no topics assigned: {error}", stacklevel=2)
    if topics is None:
        topics = pl.DataFrame(
            {"topic_id": [None] * descriptions.len(), "topic_label": [None] * descriptions.len()},
            schema={"topic_id": pl.Int32, "topic_label": pl.String},
        )
    scored = pl.DataFrame({"description": descriptions, "sentiment": sentiment}).hstack(topics)
    return (
        requests.select("request_id", pl.col("description").cast(pl.String))
        .join(scored, on="description", how="left", maintain_order="left")
        .drop("description")
        .cast(FEEDBACK_TEXT_SCORES_SCHEMA)
    )
