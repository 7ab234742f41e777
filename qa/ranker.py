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
import sqlite3
import threading
import unicodedata
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

# FTS5's unicode61 tokenizer: runs of letters and digits (underscore separates), lower-cased,
# Latin diacritics removed. The porter stems come from SQLite's own FTS5 (see _Stemmer), so
# a question's terms are exactly the terms the lexical index holds.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class _Stemmer:
    """Porter stems as FTS5 makes them: unknown tokens go through an in-memory FTS5 table once,
    then come from a cache."""

    max_cached = 500_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'porter unicode61')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")

    def _fts_terms(self, text: str) -> list[tuple[int, str]]:
        self._conn.execute("DELETE FROM t")
        self._conn.execute("INSERT INTO t (x) VALUES (?)", (text,))
        return [(int(o), str(term)) for o, term in
                self._conn.execute("SELECT offset, term FROM v ORDER BY offset")]

    def stems(self, tokens: list[str]) -> list[str]:
        with self._lock:
            missing = [t for t in dict.fromkeys(tokens) if t not in self._cache]
            if missing:
                if len(self._cache) + len(missing) > self.max_cached:
                    self._cache.clear()
                found = self._fts_terms(" ".join(missing))
                if [o for o, _ in found] == list(range(len(missing))):
                    self._cache.update(zip(missing, (term for _, term in found), strict=True))
                else:  # a token FTS5 splits differently: one at a time, first term
                    for token in missing:
                        one = self._fts_terms(token)
                        self._cache[token] = one[0][1] if one else token
            return [self._cache[t] for t in tokens]


@functools.cache
def _stemmer() -> _Stemmer:
    """One per process, made on first use (nothing is opened at import)."""
    return _Stemmer()


def _fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def terms(text: str) -> list[str]:
    """The terms FTS5 indexes for `text`, in order."""
    return _stemmer().stems(_TOKEN.findall(_fold(text)))


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

