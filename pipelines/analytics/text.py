"""Feedback text: VADER sentiment and TF-IDF + NMF topics, for ``raw.feedback_text_scores``.

Descriptions arrive redacted: personal data is replaced by placeholders such as ``[EMAIL]``,
``[PHONE]``, ``[ADDRESS]`` and ``[NAME]`` (``pipelines.ingest.privacy``). Placeholders are removed
before scoring: as topic words they would only say "someone left an e-mail address", and VADER
reads an all-capitals token as shouting, which boosts other capitalised words' sentiment.

Cost: 311 descriptions repeat a lot (templates, copy-paste, "pothole"), so every expensive step
runs once per DISTINCT cleaned text and is joined back; the per-row work is polars expressions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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

FEEDBACK_TEXT_SCORES_SCHEMA = pl.Schema(
    {
        "request_id": pl.String(),
        "sentiment": pl.Float64(),
        "topic_id": pl.Int32(),
        "topic_label": pl.String(),
    }
)


def clean_texts(texts: pl.Series) -> pl.Series:
    """Remove redaction placeholders and squeeze whitespace; null when nothing is left."""
    cleaned = (
        texts.cast(pl.String)
        .str.replace_all(PLACEHOLDER_PATTERN, " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return (
        pl.DataFrame({"text": cleaned})
        .select(pl.when(pl.col("text").str.len_chars() > 0).then(pl.col("text")).alias("text"))
        .to_series()
    )


def _distinct(cleaned: pl.Series) -> pl.Series:
    """Distinct non-null texts in a fixed (sorted) order, so results never depend on row order."""
    return cleaned.drop_nulls().unique().sort()


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """One VADER analyzer per process: building it parses the 7,506-entry lexicon file."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_scores(texts: pl.Series) -> pl.Series:
    """VADER compound score in [-1, 1] per text; null for null, empty or placeholder-only texts.

    VADER runs once per distinct cleaned text (a Python call each, hence the dedupe) and the
    scores are mapped back onto the rows with a hash lookup.
    """
    cleaned = clean_texts(texts)
    distinct = _distinct(cleaned)
    analyzer = _analyzer()
    scores = [analyzer.polarity_scores(text)["compound"] for text in distinct.to_list()]
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
    requests: pl.DataFrame, n_topics: int = 8, *, model: TopicModel | None = None
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
    descriptions = requests["description"]
    sentiment = sentiment_scores(descriptions)
    topics: pl.DataFrame | None = None
    if clean_texts(descriptions).drop_nulls().len():
        try:
            topics = (model or fit_topics(descriptions, n_topics)).assign(descriptions)
        except ValueError as error:
            warnings.warn(f"no topics assigned: {error}", stacklevel=2)
    if topics is None:
        topics = pl.DataFrame(
            {"topic_id": [None] * requests.height, "topic_label": [None] * requests.height},
            schema={"topic_id": pl.Int32, "topic_label": pl.String},
        )
    columns: dict[str, Any] = {
        "request_id": requests["request_id"],
        "sentiment": sentiment,
        "topic_id": topics["topic_id"],
        "topic_label": topics["topic_label"],
    }
    return pl.DataFrame(columns).cast(FEEDBACK_TEXT_SCORES_SCHEMA)
