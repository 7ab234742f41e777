"""The answer policy: the one place that decides whether the reader's best span is given as the
answer (its confidence reaches the abstain threshold, and what was read is about the question)
or the service abstains."""

from __future__ import annotations

from dataclasses import dataclass

from qa.types import ReaderResult, RetrievedPassage


def off_topic(passages: list[RetrievedPassage], min_similarity: float) -> bool:
    """True when dense search scored the passages and none reaches `min_similarity`."""
    scored = [p.similarity for p in passages if p.similarity is not None]
    return bool(scored) and max(scored) < min_similarity


@dataclass(frozen=True)
class AnswerPolicy:
    """`threshold`: the confidence below which the service abstains (QA_ABSTAIN_THRESHOLD, else
    the reader's calibrated one); `min_similarity`: the least dense similarity of something read
    for the question to count as on topic."""

    threshold: float
    min_similarity: float

    def screen(self, result: ReaderResult, read: list[RetrievedPassage]) -> ReaderResult:
        """`result`, less its answer when nothing read is about the question (whatever span
        the reader found then is a guess); its passage scores are kept for re-ranking."""
        if result.best is not None and off_topic(read, self.min_similarity):
            return ReaderResult(None, 0.0, 1.0, result.passage_scores)
        return result

    def confident(self, confidence: float) -> bool:
        """Whether an answer this confident is worth giving."""
        return confidence >= self.threshold

    def answers(self, result: ReaderResult) -> bool:
        """Whether `result`'s best span is given as the answer (else the service abstains)."""
        return result.best is not None and self.confident(result.confidence)
