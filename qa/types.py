"""The plain data shapes passed between stages and returned to callers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NewDocument:
    """A document as given by a user, before it is stored."""

    title: str
    text: str
    url: str | None = None
    published: str | None = None
    source: str | None = None  # where it came from (file, record), for messages; not stored


@dataclass(frozen=True)
class RetrievedPassage:
    """A passage found for a question; offsets are characters in the document's text."""

    passage_id: int
    document_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    sentences: tuple[tuple[int, int], ...] = ()  # document offsets of its sentences
    similarity: float | None = None  # cosine to the question, when dense search found it
    # the learned re-scorer's probability that the passage holds the answer, when it ran
    probability: float | None = None


@dataclass(frozen=True)
class AnswerSpan:
    """An answer found by a reader: a span of one passage's document, with its evidence."""

    document_id: str
    passage_id: int
    answer_start: int
    answer_end: int
    evidence_start: int
    evidence_end: int
    score: float


@dataclass(frozen=True)
class ReaderResult:
    """What a reader concluded: the best span (if any) and how sure it is that it answers."""

    best: AnswerSpan | None
    confidence: float
    no_answer_probability: float
    # How strongly each read passage answers (passage id -> best span score minus its null
    # score); used to re-rank the passages that were read. Empty when a reader has no scores.
    passage_scores: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    document_id: str
    title: str
    passage_id: int
    start: int
    end: int
    quote: str
    answer_start: int | None
    answer_end: int | None


@dataclass
class Answer:
    question: str
    answer: str | None
    confidence: float
    no_answer_probability: float
    citations: list[Citation]
    passages: list[RetrievedPassage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None
    conversation_id: str | None = None
