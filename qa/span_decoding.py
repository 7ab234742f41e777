"""Best-span search over a reader's start/end logits (shared by inference and training eval)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


@dataclass(frozen=True)
class SpanCandidate:
    """A character span in the context with its raw start+end logit score."""

    start_char: int
    end_char: int
    score: float


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list[tuple[int, int] | None],
    max_answer_tokens: int = 30,
    top_n: int = 20,
    n_best: int = 1,
    segments: list[int] | None = None,
    blocked: list[bool] | None = None,
) -> list[SpanCandidate]:
    """Return the highest-scoring valid spans of one window.

    `offsets[i]` is the (start, end) character span of token i in the context, or None for
    tokens outside the context (question, special tokens, padding); such tokens never start or
    end an answer. With `segments` (token i's paragraph number), a span stays in one paragraph;
    a token marked in `blocked` is never part of one.
    """
    valid = np.array([o is not None for o in offsets], dtype=bool)
    if blocked is not None:
        valid &= ~np.array(blocked, dtype=bool)
    n = len(offsets)
    start = np.where(valid, start_logits[:n], -np.inf)
    end = np.where(valid, end_logits[:n], -np.inf)
    start_idx = np.argsort(-start)[:top_n]
    end_idx = np.argsort(-end)[:top_n]
    found: list[SpanCandidate] = []
    for s in start_idx:
        if not valid[s]:
            continue
        for e in end_idx:
            if not valid[e] or e < s or e - s + 1 > max_answer_tokens:
                continue
            if segments is not None and segments[s] != segments[e]:
                continue
            if blocked is not None and any(blocked[s : e + 1]):
                continue
            s_off, e_off = offsets[s], offsets[e]
            assert s_off is not None and e_off is not None
            found.append(SpanCandidate(s_off[0], e_off[1], float(start[s] + end[e])))
    found.sort(key=lambda c: -c.score)
    return found[:n_best]


def paragraph_breaks(context: str) -> list[int]:
    """Where `context`'s paragraphs end: at each blank line (a single line break may be a
    wrapped line, as in a PDF's text)."""
    return [m.start() for m in _BLANK_LINE.finditer(context)]


def paragraph_numbers(breaks: list[int], offsets: list[tuple[int, int] | None]) -> list[int]:
    """Each token's paragraph, given its context's `paragraph_breaks`; -1 outside the
    context."""
    return [-1 if o is None else bisect.bisect_right(breaks, o[0]) for o in offsets]


def complete_name(span: SpanCandidate, names: list[tuple[int, int, int]]) -> SpanCandidate:
    """`span`, carried to the end of a name it stops just before or inside of: `names` are
    (end of the word before the name, name start, name end) character offsets ("Saudi daily"
    or "Saudi daily Al" -> "Saudi daily Al-Hayat")."""
    for before, start, end in names:
        if span.start_char < end and (span.end_char == before or start < span.end_char < end):
            return SpanCandidate(span.start_char, end, span.score)
    return span


def tokens_within(ranges: list[tuple[int, int]], offsets: list[tuple[int, int] | None]
                  ) -> list[bool]:
    """Whether each token overlaps one of `ranges` ((start, end) characters)."""
    return [o is not None and any(o[0] < b and o[1] > a for a, b in ranges) for o in offsets]
