"""Best-span search over a reader's start/end logits (shared by inference and training eval)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
) -> list[SpanCandidate]:
    """Return the highest-scoring valid spans of one window.

    `offsets[i]` is the (start, end) character span of token i in the context, or None for
    tokens outside the context (question, special tokens, padding); such tokens never start or
    end an answer.
    """
    valid = np.array([o is not None for o in offsets], dtype=bool)
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
            s_off, e_off = offsets[s], offsets[e]
            assert s_off is not None and e_off is not None
            found.append(SpanCandidate(s_off[0], e_off[1], float(start[s] + end[e])))
    found.sort(key=lambda c: -c.score)
    return found[:n_best]
