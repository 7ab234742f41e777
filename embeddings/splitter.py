"""Split a document into passages of whole sentences, keeping character offsets.

Sentences never cross a line break (news pages put headlines, captions and paragraphs on their
own lines); inside a block of text spaCy's sentence recognizer (`senter`, no parse) decides
the boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from embeddings.nlp import load_sentence_splitter

_BLOCK = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class TextSpan:
    """A [start, end) character span of a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Region:
    """A [start, end) part of a document to split, and its label (what kind of text it is).
    Passages never cross from one region into another."""

    start: int
    end: int
    label: str = "body"


@dataclass(frozen=True)
class PassageSpan:
    """A passage: consecutive sentences of one document, all from regions of one label."""

    ordinal: int
    start: int
    end: int
    sentences: tuple[TextSpan, ...]
    label: str = "body"


def _strip(text: str, start: int, end: int) -> TextSpan | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return TextSpan(start, end) if end > start else None


# spaCy is given at most this many characters at a time (its memory grows with the length of
# what it reads, and it refuses more than 1,000,000): longer blocks are cut first.
MAX_PARSE_CHARS = 20_000
# No sentence is longer than this: a "sentence" without punctuation (a tag list, a run of one
# word) is cut at whitespace, so passages, and the cost of reading one, stay bounded.
MAX_SENTENCE_CHARS = 1000
_BREAK_AFTER = re.compile(r"[.!?;:,)\]]\s|\s")


def cut(text: str, start: int, end: int, limit: int) -> list[TextSpan]:
    """[start, end) of `text` in pieces of at most `limit` characters, each cut after the last
    punctuation mark + whitespace in its second half, else the last whitespace, else at the limit."""
    pieces: list[TextSpan] = []
    while end - start > limit:
        window = text[start : start + limit]
        breaks = list(_BREAK_AFTER.finditer(window, limit // 2))
        after_mark = [m.end() for m in breaks if not window[m.start()].isspace()]
        at = (after_mark or [m.end() for m in breaks] or [limit])[-1]
        if (span := _strip(text, start, start + at)) is not None:
            pieces.append(span)
        start += at
    if (span := _strip(text, start, end)) is not None:
        pieces.append(span)
    return pieces


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[TextSpan]:
    """Sentence spans of `text` (document coordinates), whitespace trimmed, none longer than
    `max_chars`."""
    return [s for s, _ in split_sentences_many([text], max_chars)[0]]


def _blocks(text: str, regions: list[Region] | None) -> list[tuple[TextSpan, Region]]:
    """The non-blank lines of `text` (of each region, when given), those over MAX_PARSE_CHARS
    cut, each with the region it lies in."""
    parts = regions if regions is not None else [Region(0, len(text))]
    out = []
    for part in parts:
        for m in _BLOCK.finditer(text, part.start, part.end):
            if not m.group().strip():
                continue
            pieces = ([TextSpan(m.start(), m.end())] if m.end() - m.start() <= MAX_PARSE_CHARS
                      else cut(text, m.start(), m.end(), MAX_PARSE_CHARS))
            out += [(p, part) for p in pieces]
    return out


def split_sentences_many(texts: list[str], max_chars: int = MAX_SENTENCE_CHARS,
                         batch_size: int = 64, regions: list[list[Region] | None] | None = None
                         ) -> list[list[tuple[TextSpan, Region]]]:
    """The sentences of each text with the region they lie in (only inside its `regions` when
    given, else in one region spanning the text, labelled "body"), the blocks of all of them
    parsed in one `nlp.pipe` stream (spaCy batches across documents)."""
    blocks = [(i, block, region) for i, text in enumerate(texts)
              for block, region in _blocks(text, regions[i] if regions is not None else None)]
    nlp = load_sentence_splitter()
    docs: Iterable = nlp.pipe((texts[i][b.start : b.end] for i, b, _ in blocks),
                              batch_size=batch_size)
    spans: list[list[tuple[TextSpan, Region]]] = [[] for _ in texts]
    for (i, block, region), doc in zip(blocks, docs, strict=True):
        text = texts[i]
        for start, end in _joined(doc):
            span = _strip(text, block.start + start, block.start + end)
            if span is not None:
                spans[i].extend((piece, region)
                                for piece in cut(text, span.start, span.end, max_chars))
    return spans


def _joined(doc: Any) -> list[tuple[int, int]]:
    """The (start, end) characters of a block's sentences, a "sentence" of punctuation alone
    joined to a neighbour: closing punctuation ("No" | ".") to the sentence before it, opening
    punctuation (a quote, a bracket) or any at the start of the block to the one after it."""
    out: list[tuple[int, int]] = []
    carried: int | None = None  # the start of punctuation waiting for the next sentence
    for sent in doc.sents:
        if not any(ch.isalnum() for ch in sent.text):
            if out and not all(t.is_left_punct or t.is_space for t in sent):
                out[-1] = (out[-1][0], sent.end_char)
            elif carried is None:
                carried = sent.start_char
            continue
        out.append((sent.start_char if carried is None else carried, sent.end_char))
        carried = None
    if carried is not None:  # punctuation alone at the end, with nothing to join
        out.append((carried, len(doc.text)))
    return out


class PassageSplitter:
    """Groups sentences into passages of about `sentences_per_passage`, overlapping by
    `overlap` sentences, never longer than `max_chars` (longer sentences are cut first)."""

    def __init__(self, sentences_per_passage: int = 4, overlap: int = 1, max_chars: int = 1000):
        if not 0 <= overlap < sentences_per_passage:
            raise ValueError("overlap must be smaller than sentences_per_passage")
        self.sentences_per_passage = sentences_per_passage
        self.overlap = overlap
        self.max_chars = max_chars

    def split(self, text: str, regions: list[Region] | None = None) -> list[PassageSpan]:
        return self.split_many([text], [regions])[0]

    def split_many(self, texts: list[str], regions: list[list[Region] | None] | None = None
                   ) -> list[list[PassageSpan]]:
        """`split` of each text (only inside its regions, when given), all parsed in one spaCy
        stream."""
        return [self.group(s) for s in split_sentences_many(texts, self.max_chars,
                                                            regions=regions)]

    def group(self, sentences: list[tuple[TextSpan, Region]]) -> list[PassageSpan]:
        """Passages of consecutive sentences of one region: a passage never spans what lies
        between two regions (text left out) nor mixes labels (captions make passages of their
        own)."""
        passages: list[PassageSpan] = []
        run_start = 0
        while run_start < len(sentences):
            region = sentences[run_start][1]
            run_end = run_start
            while run_end < len(sentences) and sentences[run_end][1] == region:
                run_end += 1
            self._group_run([s for s, _ in sentences[run_start:run_end]], region.label, passages)
            run_start = run_end
        return passages

    def _group_run(self, sentences: list[TextSpan], label: str, passages: list[PassageSpan]) -> None:
        i = 0
        while i < len(sentences):
            j = i + 1
            while (
                j < len(sentences)
                and j - i < self.sentences_per_passage
                and sentences[j].end - sentences[i].start <= self.max_chars
            ):
                j += 1
            chunk = tuple(sentences[i:j])
            passages.append(PassageSpan(len(passages), chunk[0].start, chunk[-1].end, chunk, label))
            if j >= len(sentences):
                break
            i = max(i + 1, j - self.overlap)
