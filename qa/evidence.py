"""Mapping an answer span to the evidence sentence(s) that contain it."""

from __future__ import annotations

from qa.text import content_words
from qa.types import RetrievedPassage


def evidence_span(passage: RetrievedPassage, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) of `passage` that cover [start, end)."""
    first = last = None
    for s, e in passage.sentences:
        if first is None and s <= start < e:
            first = s
        if s < end <= e:
            last = e
    return (first if first is not None else passage.start, last if last is not None else passage.end)


def closest_sentence(question: str, passage: RetrievedPassage) -> tuple[int, int]:
    """The sentence of `passage` sharing the most content words with the question."""
    if not passage.sentences:
        return passage.start, passage.end
    words = content_words(question)
    offset = passage.start

    def overlap(span: tuple[int, int]) -> int:
        return len(words & content_words(passage.text[span[0] - offset : span[1] - offset]))

    return max(passage.sentences, key=overlap)
