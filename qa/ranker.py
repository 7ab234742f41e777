"""Learned re-scoring of the fused top passages: a logistic model over cheap signals of each
candidate (its fused score and rank, passage and best-sentence cosines, BM25, and how much of
the question's rare words one sentence holds), trained by scripts/train_ranker.py and shipped as
a small JSON file. A question is usually answered by one sentence that shares its rare words,
which neither ranking alone sees."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

_WORD = re.compile(r"\w+", re.UNICODE)


@functools.cache
def _stemmer():  # type: ignore[no-untyped-def]
    try:
        import snowballstemmer
    except ImportError as exc:  # a core dependency; says what to do if it went missing
        raise RuntimeError("the learned re-scorer needs `pip install snowballstemmer`") from exc
    return snowballstemmer.stemmer("porter")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of a lower-case word, as FTS5's `porter` tokenizer stores it."""
    return str(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """The stemmed, lower-case words of `text`, in order."""
    return [stem(w.lower()) for w in _WORD.findall(text)]


@dataclass(frozen=True)
class QueryTerms:
    """The question's distinct stemmed terms with their IDF in the passage index."""

    terms: tuple[str, ...]
    idf: Mapping[str, float]

    @classmethod
    def build(cls, question: str, passage_counts: Callable[[list[str]], Mapping[str, int]],
              passages: int) -> QueryTerms:
        """`passage_counts` looks up how many of the `passages` hold each term (BM25's IDF)."""
        distinct = tuple(dict.fromkeys(terms(question)))
        counts = passage_counts(list(distinct))
        n = max(passages, 1)
        idf = {t: math.log(1 + (n - (d := counts.get(t, 0)) + 0.5) / (d + 0.5)) for t in distinct}
        return cls(distinct, idf)

    def overlap(self, words: set[str]) -> float:
        total = sum(self.idf.values())
        return sum(v for t, v in self.idf.items() if t in words) / total if total else 0.0

    def bigram_overlap(self, words: Sequence[str]) -> float:
        wanted = set(zip(self.terms, self.terms[1:], strict=False))
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
    rows = []
    for rank, p in enumerate(passages, start=1):
        cosine = p.similarity if p.similarity is not None else dense_floor
        sentence_rows = []
        for start, end in p.sentences or ((p.start, p.end),):
            words = terms(p.text[start - p.start : end - p.start])
            sentence_rows.append((
                sentence_cosines.get((p.document_id, start), cosine),
                query.overlap(set(words)),
                query.bigram_overlap(words),
            ))
        cos, ov, bigrams = (np.array(col) for col in zip(*sentence_rows, strict=True))
        lexical = bm25.get(p.passage_id)
        rows.append([
            p.score * rrf_k, math.log(rank), cosine, float(p.similarity is None),
            lexical / top_bm25 if lexical is not None and top_bm25 > 0 else 0.0,
            float(lexical is None), float(cos.max()), float(ov.max()),
            query.overlap(set(terms(p.text))), float(bigrams.max()), float((cos + ov).max()),
        ])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


@dataclass(frozen=True)
class LinearRanker:
    """score = coef . (x - mean) / scale + intercept (a logistic model's log-odds)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def load(cls, path: Path) -> LinearRanker:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was trained on other features: {data['features']}")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   float(data["intercept"]))

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept


@functools.cache
def shared_ranker(path: Path | None = None) -> LinearRanker:
    """The ranker, read once per process."""
    return LinearRanker.load(path or DEFAULT_RANKER)
