"""Learned re-scoring of the fused top passages: a logistic model over cheap signals of each
candidate (its fused score and rank, passage and best-sentence cosines, BM25, and how much of
the question's rare words one sentence holds), trained by scripts/train_ranker.py and shipped as
a small JSON file. A question is usually answered by one sentence that shares its rare words,
which neither ranking alone sees."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.text import terms
from qa.types import RetrievedPassage

DEFAULT_RANKER = Path(__file__).parent / "models" / "ranker" / "ranker.json"

FEATURES = (
    "fused_score",  # RRF score x rrf_k (about 1 for rank 1 in one list)
    "log_fused_rank",
    "passage_cosine",  # dense cosine; candidates found only lexically get the dense floor
    "no_passage_cosine",
    "bm25",  # BM25 over the best BM25 of the question (0 when not found lexically)
    "no_bm25",
    "best_sentence_cosine",
    "best_sentence_overlap",  # share of the question's IDF mass present in one sentence
    "passage_overlap",
    "best_sentence_bigrams",  # share of the question's stemmed bigrams present in one sentence
    "best_cosine_plus_overlap",  # both in the same sentence
)

@dataclass(frozen=True)
class QueryTerms:
    """The question's terms in order (for bigrams) and its distinct terms' IDF in the passage
    index."""

    sequence: tuple[str, ...]
    idf: Mapping[str, float]

    @classmethod
    def build(cls, question: str, passage_counts: Callable[[list[str]], Mapping[str, int]],
              passages: int) -> QueryTerms:
        """`passage_counts` looks up how many of the `passages` hold each term (BM25's IDF)."""
        sequence = tuple(terms(question))
        distinct = list(dict.fromkeys(sequence))
        counts = passage_counts(distinct)
        n = max(passages, 1)
        idf = {t: math.log(1 + (n - (d := counts.get(t, 0)) + 0.5) / (d + 0.5)) for t in distinct}
        return cls(sequence, idf)

    def overlap(self, words: set[str]) -> float:
        """Share of the question's IDF mass whose terms are among `words`."""
        total = sum(self.idf.values())
        return sum(v for t, v in self.idf.items() if t in words) / total if total else 0.0

    def bigram_overlap(self, words: Sequence[str]) -> float:
        """Share of the question's distinct adjacent term pairs that also occur in `words`."""
        wanted = set(zip(self.sequence, self.sequence[1:], strict=False))
        if not wanted:
            return 0.0
        return len(wanted & set(zip(words, words[1:], strict=False))) / len(wanted)


def candidate_features(
    query: QueryTerms,
    passages: Sequence[RetrievedPassage],
    bm25: Mapping[int, float],
    sentence_cosines: Mapping[tuple[str, int], float],
    rrf_k: int,
) -> np.ndarray:
    """One row of FEATURES per passage, in the fused order given (`score` is the fused score,
    `similarity` the dense cosine when dense search found it)."""
    found = [p.similarity for p in passages if p.similarity is not None]
    dense_floor = min(found) if found else 0.0
    top_bm25 = max(bm25.values(), default=0.0)
    sentence_terms: dict[tuple[str, int], list[str]] = {}  # overlapping passages share one
    rows = []
    for rank, p in enumerate(passages, start=1):
        cosine = p.similarity if p.similarity is not None else dense_floor
        sentence_rows = []
        passage_words: set[str] = set()  # the sentences tile the passage: their terms are its
        for start, end in p.sentences or ((p.start, p.end),):
            key = (p.document_id, start)
            if key not in sentence_terms:
                sentence_terms[key] = terms(p.text[start - p.start : end - p.start])
            words = sentence_terms[key]
            passage_words.update(words)
            sentence_rows.append((
                sentence_cosines.get(key, cosine),
                query.overlap(set(words)),
                query.bigram_overlap(words),
            ))
        cos, ov, bigrams = (np.array(col) for col in zip(*sentence_rows, strict=True))
        lexical = bm25.get(p.passage_id)
        rows.append([
            p.score * rrf_k, math.log(rank), cosine, float(p.similarity is None),
            lexical / top_bm25 if lexical is not None and top_bm25 > 0 else 0.0,
            float(lexical is None), float(cos.max()), float(ov.max()),
            query.overlap(passage_words), float(bigrams.max()), float((cos + ov).max()),
        ])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


# The settings that shape the features; recorded with a trained model and checked at load.
FEATURE_SETTINGS = ("candidates", "rrf_k", "dense_weight", "lexical_weight", "rescore_candidates",
                    "sentences_per_passage", "passage_overlap", "passage_max_chars", "embed_title")


@dataclass(frozen=True)
class LinearRanker:
    """score = coef . (x - mean) / scale + intercept (a logistic model's log-odds)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    trained_with: Mapping[str, object]  # FEATURE_SETTINGS values at training time

    @classmethod
    def load(cls, path: Path) -> LinearRanker:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was trained on other features: {data['features']}")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   float(data["intercept"]), dict(data.get("settings", {})))

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def mismatches(self, settings: Mapping[str, object]) -> list[str]:
        """Feature-shaping settings that differ from those the model was trained with."""
        return [f"{k}={settings[k]!r} (trained with {v!r})" for k, v in self.trained_with.items()
                if k in settings and settings[k] != v]


@functools.cache
def shared_ranker(path: Path | None = None) -> LinearRanker:
    """The ranker, read once per process."""
    return LinearRanker.load(path or DEFAULT_RANKER)

