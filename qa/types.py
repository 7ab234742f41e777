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
    # The story's identity beyond its text (a caller's key; else the URL; else, for a local
    # file, its path): new text under the same identity is a new version of the story.
    key: str | None = None
    # Each page's (start, end) character range in `text` (a PDF's pages, in order); None when
    # the source has no pages.
    pages: tuple[tuple[int, int], ...] | None = None
    # (start, end) of lines of `text` known to be photo captions (an HTML page's <figcaption>)
    captions: tuple[tuple[int, int], ...] | None = None

    @property
    def story_key(self) -> str | None:
        return self.key or self.url


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
    published: str | None = None  # the document's publication date (ISO), when known
    block: str = "body"  # what kind of text: "body", "head" (headline, byline...) or "caption"


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
class Candidate:
    """A passage's own best answer and the reader's confidence in it."""

    span: AnswerSpan
    confidence: float


@dataclass(frozen=True)
class ReaderResult:
    """What a reader concluded: the best span (if any) and how sure it is that it answers."""

    best: AnswerSpan | None
    confidence: float
    no_answer_probability: float
    # How strongly each read passage answers (passage id -> best span score minus its null
    # score); used to re-rank the passages that were read. Empty when a reader has no scores.
    passage_scores: dict[int, float] = field(default_factory=dict)
    # Each read passage's best answer (the neural reader's), for comparing what sources say.
    candidates: tuple[Candidate, ...] = ()


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
    published: str | None = None  # the document's publication date: the answer is "as of" it
    page: int | None = None  # the page (from 1) the quote starts on, when the document has pages
    # the kind of article line the quote starts in (body, caption, headline, standfirst, byline,
    # dateline), when the document's lines were typed at ingest
    block: str | None = None


@dataclass(frozen=True)
class Source:
    """An article, named: who else reported what was cited."""

    document_id: str
    title: str
    url: str | None
    published: str | None


@dataclass(frozen=True)
class AnswerDate:
    """The date an answer names, normalized: the words as written (`text`), and a day, month
    or year (`value`: YYYY-MM-DD, YYYY-MM, YYYY) or a range of days (`first`, `last`), resolved
    against the cited article's publication date ("late August" in a report of 2014-09-02 ->
    2014-08)."""

    text: str
    value: str | None
    first: str | None = None
    last: str | None = None


@dataclass(frozen=True)
class Alternative:
    """A value other sources give for what was asked, where they disagree with the answer."""

    answer: str
    confidence: float  # the reader's, for its most confident source
    citations: list[Citation]  # one per document giving it, most confident first
    published: str | None  # its newest source's publication date
    superseded: bool  # every source giving it was replaced by a newer version of its story
    corrected: bool  # a later correction notice among the answer's sources says otherwise
    # superseded / corrected / earlier (an older report than the answer's) / unsettled
    status: str = "unsettled"


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
    as_of: str | None = None  # the answer's source's publication date
    # other documents that give the same answer (with the first citation: "3 articles agree")
    agreement: list[Citation] = field(default_factory=list)
    # what other sources say instead, when they disagree; None when they agree or one speaks
    disagreement: list[Alternative] | None = None
    notice: str | None = None  # e.g. that no article matches the filters asked for
    date: AnswerDate | None = None  # the date the answer names, normalized, when it names one
    # near-duplicates of the cited article (the same wire copy elsewhere): also reported by
    also_reported_by: list[Source] = field(default_factory=list)
