"""The rule-based answer extractor (fallback and ablation for the neural reader).

Scores sentences against the question (embedding cosine + content-word overlap), then picks a
span of the expected answer type (question word -> spaCy entity labels, numbers, dates, noun
chunks) from the best sentences; a span that only repeats the question is never chosen."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from embeddings.encoder import Encoder
from embeddings.nlp import load_spacy
from qa.reader import UNCALIBRATED_ABSTAIN_THRESHOLD
from qa.text import content_words, stem
from qa.types import AnswerSpan, ReaderResult, RetrievedPassage

_TYPE_RULES: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|amount)\b"),
     frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})),
    (re.compile(r"\bwhen\b|\bwhat (year|day|date|month|time)\b"), frozenset({"DATE", "TIME"})),
    (re.compile(r"\bwhere\b|\bwhat (country|city|place|region)\b|\bin which\b"),
     frozenset({"GPE", "LOC", "FAC"})),
    (re.compile(r"\bwho(m|se)?\b|\bwhich (person|group|organization|paper|newspaper|site)\b"
                r"|\bwhat (group|organization|paper|newspaper|site|daily)\b"),
     frozenset({"PERSON", "ORG"})),
]
_WHY_MARKERS = re.compile(r"\b(because|due to|in order to|as a form of|to)\b", re.I)


def expected_labels(question: str) -> frozenset[str] | None:
    q = question.lower()
    for pattern, labels in _TYPE_RULES:
        if pattern.search(q):
            return labels
    return None


@dataclass
class _Sentence:
    passage: RetrievedPassage
    start: int
    end: int
    text: str
    score: float = 0.0


class RuleExtractor:
    abstain_threshold = UNCALIBRATED_ABSTAIN_THRESHOLD  # its scores were never calibrated

    def __init__(self, encoder: Encoder, sentences_to_read: int = 3):
        self.encoder = encoder
        self.sentences_to_read = sentences_to_read

    def read(self, question: str, passages: list[RetrievedPassage]) -> ReaderResult:
        sentences = self._sentences(passages)
        if not sentences:
            return ReaderResult(None, 0.0, 1.0)
        q_words = content_words(question)
        vectors = self.encoder.encode([question] + [s.text for s in sentences])
        cosines = vectors[1:] @ vectors[0]
        for sent, cos in zip(sentences, cosines, strict=True):
            overlap = len(q_words & content_words(sent.text)) / max(1, len(q_words))
            sent.score = 0.6 * float(cos) + 0.4 * overlap
        sentences.sort(key=lambda s: -s.score)
        labels = expected_labels(question)
        nlp = load_spacy()
        best: tuple[float, _Sentence, int, int] | None = None
        for rank, sent in enumerate(sentences[: self.sentences_to_read]):
            for s, e, bonus in self._candidates(nlp(sent.text), question, labels, q_words):
                score = sent.score + bonus - 0.05 * rank
                if best is None or score > best[0]:
                    best = (score, sent, s, e)
        if best is None:
            return ReaderResult(None, 0.0, 1.0)
        score, sent, s, e = best
        confidence = float(np.clip(score, 0.0, 1.0))
        span = AnswerSpan(sent.passage.document_id, sent.passage.passage_id, sent.start + s,
                          sent.start + e, sent.start, sent.end, score)
        return ReaderResult(span, confidence, 1.0 - confidence)

    @staticmethod
    def _sentences(passages: list[RetrievedPassage]) -> list[_Sentence]:
        seen: set[tuple[str, int]] = set()
        out = []
        for p in passages:
            for s, e in p.sentences or ((p.start, p.end),):
                if (p.document_id, s) not in seen:
                    seen.add((p.document_id, s))
                    out.append(_Sentence(p, s, e, p.text[s - p.start : e - p.start]))
        return out

    @staticmethod
    def _candidates(doc, question: str, labels: frozenset[str] | None,  # type: ignore[no-untyped-def]
                    q_words: set[str]) -> list[tuple[int, int, float]]:
        """(start, end, bonus) candidate spans of one sentence, in sentence offsets."""
        out: list[tuple[int, int, float]] = []

        def novel(text: str) -> bool:
            words = content_words(text)
            return bool(words) and not words <= q_words

        if question.lower().lstrip().startswith("why"):
            m = _WHY_MARKERS.search(doc.text)
            if m and novel(doc.text[m.start():]):
                out.append((m.start(), len(doc.text.rstrip(" .")), 0.3))
            return out
        for ent in doc.ents:
            # With a known answer type, only entities of that type qualify.
            if novel(ent.text) and (labels is None or ent.label_ in labels):
                out.append((ent.start_char, ent.end_char, 0.4 if labels else 0.1))
        if labels is None:
            for chunk in doc.noun_chunks:
                if novel(chunk.text):
                    out.append((chunk.start_char, chunk.end_char, 0.15))
        # Prefer candidates near the words the question mentions.
        anchors = [t.idx for t in doc if stem(t.text.lower()) in q_words]
        if anchors:
            out = [(s, e, b - 0.002 * min(abs(s - a) for a in anchors) / 10) for s, e, b in out]
        return out
