"""Mapping an answer span to the evidence sentence(s) that contain it."""

from __future__ import annotations

import re

from qa.types import RetrievedPassage

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been did do does what "
    "who whom whose where when why how which that this these those it its they them their he she "
    "his her as about after before into over than then there".split()
)


def stem(word: str) -> str:
    """A crude suffix stripper, enough to match "meet"/"meeting" or "report"/"reported"."""
    for suffix in ("ings", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words of `text` other than stop words."""
    return {stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


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
