"""Small, deterministic stand-ins for the models, for the fast test tier (tests/fast/).

They honour the contracts the service relies on (an encoder's unit vectors of one dimension, a
reader's spans inside the passages it was given) and nothing else: what they answer says
nothing about the real models' quality, which the full tier tests.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from qa.types import AnswerSpan, Candidate, ReaderResult, RetrievedPassage

_WORD = re.compile(r"\w+")
# Too common to say what a question is about (the fake reader ignores them).
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from had has have he her his how in is it its "
    "of on or she that the their they this to was were what when where which who whom why "
    "with".split())


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOPWORDS}


class HashingEncoder:
    """Texts to L2-normalized sets of hashed content words: texts that share words are close
    (cosine about shared / sqrt(words x words)), texts that share none are near orthogonal,
    the same text always gets the same vector, and no model is loaded."""

    name = "hashing-test-encoder"

    def __init__(self, dimension: int = 512):
        self.dimension = dimension

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in content_words(text):
                # crc32, not hash(): the same vector in every process (hash() is salted).
                out[row, zlib.crc32(word.encode()) % self.dimension] = 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class OverlapReader:
    """Answers with the sentence of the passages read that shares the most content words with
    the question; its confidence is the share of the question's content words it holds. No
    shared word: no answer."""

    abstain_threshold = 0.5

    def read(self, question: str, passages: list[RetrievedPassage]) -> ReaderResult:
        asked = content_words(question)
        candidates: list[Candidate] = []
        scores: dict[int, float] = {}
        for p in passages:
            best: Candidate | None = None
            for start, end in p.sentences or ((p.start, p.end),):
                if not p.start <= start < end <= p.end:
                    continue  # a sentence of the document outside this passage's text
                shared = len(asked & content_words(p.text[start - p.start : end - p.start]))
                confidence = shared / max(1, len(asked))
                if shared and (best is None or confidence > best.confidence):
                    span = AnswerSpan(p.document_id, p.passage_id, start, end, start, end,
                                      float(shared))
                    best = Candidate(span, confidence)
            if best is not None:
                candidates.append(best)
                scores[p.passage_id] = best.confidence
        if not candidates:
            return ReaderResult(None, 0.0, 1.0, scores)
        top = max(candidates, key=lambda c: c.confidence)  # the first of equals: deterministic
        return ReaderResult(top.span, top.confidence, 1.0 - top.confidence, scores,
                            tuple(candidates))
