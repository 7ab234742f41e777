"""Compose: the last stage. The reader's (screened, compared) result becomes an Answer: the
answer's words and their citation, or, when the service abstains, the sentences closest to what
was searched; with what other sources say, who else reported it, and each citation's page, line
kind and named date. It reads documents only through `CitedDocuments` (a Corpus, or a stand-in
in tests): nothing here needs a database."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from qa.dates import DateMention, mention_at
from qa.evidence import closest_sentence
from qa.policy import AnswerPolicy
from qa.retriever import PassageFilter
from qa.storage.documents import DocumentLayout, DocumentRecord, page_of
from qa.stories import Comparison, status
from qa.types import (
    Alternative,
    Answer,
    AnswerDate,
    AnswerSpan,
    Citation,
    ReaderResult,
    RetrievedPassage,
    Source,
)


class CitedDocuments(Protocol):
    """What composing reads of the corpus (qa.corpus.Corpus has both)."""

    def layouts(self, ids: list[str]) -> dict[str, DocumentLayout]: ...

    def duplicates(self, document_id: str) -> list[DocumentRecord]: ...


@dataclass(frozen=True)
class Draft:
    """Everything an answer is composed from. `passages`: those the answer returns (the top
    `top_k`); `as_read`: every passage the reader saw, by id; `comparison`: what the sources
    say, when they were compared; `where`: the filter the question was asked within."""

    question: str
    search_query: str
    result: ReaderResult
    passages: list[RetrievedPassage]
    as_read: dict[int, RetrievedPassage] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    comparison: Comparison | None = None
    where: PassageFilter | None = None


def citation_of(span: AnswerSpan, passage: RetrievedPassage) -> Citation:
    """The citation of an answer span: its evidence sentence(s) quoted from the passage."""
    return Citation(
        document_id=span.document_id, title=passage.title, passage_id=span.passage_id,
        start=span.evidence_start, end=span.evidence_end,
        quote=passage.text[span.evidence_start - passage.start : span.evidence_end - passage.start],
        answer_start=span.answer_start, answer_end=span.answer_end, published=passage.published,
    )


def distinct_citations(citations: list[Citation]) -> list[Citation]:
    """The citations in order, less any whose quote repeats an earlier one's words (overlapping
    passages share sentences; news pages print a caption twice)."""
    seen: set[str] = set()
    out = []
    for c in citations:
        key = " ".join(c.quote.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def answer_date(citation: Citation, layout: DocumentLayout | None) -> AnswerDate | None:
    """The date named by the cited answer's words, when the document's dates were resolved at
    ingest and one overlaps the answer (its words taken from the quote)."""
    if layout is None or not layout.dates or citation.answer_start is None \
            or citation.answer_end is None:
        return None
    mentions = [DateMention(*d) for d in layout.dates]
    found = mention_at(mentions, citation.answer_start, citation.answer_end)
    if found is None or not citation.start <= found.start <= found.end <= citation.end:
        return None
    words = citation.quote[found.start - citation.start : found.end - citation.start]
    return AnswerDate(words, found.value, found.first, found.last)


def with_layout(answer: Answer, layouts: dict[str, DocumentLayout]) -> Answer:
    """`answer` with, for each citation, the page it is on (a PDF's) and the kind of line it
    quotes (body, caption...), and the date its answer names."""
    if not layouts:
        return answer
    alternatives = answer.disagreement or []

    def paged(citations: list[Citation]) -> list[Citation]:
        out = []
        for c in citations:
            layout = layouts.get(c.document_id)
            out.append(c if layout is None else replace(
                c, page=page_of(layout.pages, c.start), block=layout.block_at(c.start)))
        return out

    answer.citations, answer.agreement = paged(answer.citations), paged(answer.agreement)
    if answer.answer is not None and answer.citations:
        answer.date = answer_date(answer.citations[0], layouts.get(answer.citations[0].document_id))
    if answer.disagreement is not None:
        answer.disagreement = [replace(a, citations=paged(a.citations)) for a in alternatives]
    return answer


def cited_documents(answer: Answer) -> list[str]:
    """The ids of the documents `answer` cites anywhere, each once."""
    alternatives = answer.disagreement or []
    cited = [*answer.citations, *answer.agreement, *(c for a in alternatives for c in a.citations)]
    return list({c.document_id for c in cited})


class Compose:
    """`policy` decides between answering and abstaining; `documents` gives layouts and
    near-duplicates (only `run` reads it: `answer` needs nothing but its inputs)."""

    def __init__(self, policy: AnswerPolicy, documents: CitedDocuments):
        self.policy = policy
        self.documents = documents

    def run(self, draft: Draft) -> Answer:
        answer = self.answer(draft.question, draft.result, draft.passages, draft.timings_ms,
                             draft.search_query, draft.as_read)
        where = draft.where
        if not draft.passages and where is not None and where.active:
            answer.notice = f"No article matches the filter ({where.describe()})."
        comparison = draft.comparison
        if comparison is not None and answer.answer is not None:
            answer.agreement = [citation_of(s.span, s.passage) for s in comparison.agreeing]
            answer.disagreement = [
                Alternative(p.text, p.sources[0].candidate.confidence,
                            [citation_of(s.span, s.passage) for s in p.sources],
                            p.newest or None, not p.current, p.corrected,
                            status(not p.current, p.corrected, p.newest, answer.as_of))
                for p in comparison.others] or None
        if answer.answer is not None and answer.citations:
            # the other outlets the question could have read: the same filter as the passages
            admitted = where or PassageFilter()
            answer.also_reported_by = [
                Source(d.id, d.title, d.url, d.published)
                for d in self.documents.duplicates(answer.citations[0].document_id)
                if d.current and admitted.admits(d.id, d.published)]
        # one query for all the documents cited
        return with_layout(answer, self.documents.layouts(cited_documents(answer)))

    def answer(self, question: str, result: ReaderResult, passages: list[RetrievedPassage],
               timings_ms: dict[str, float], search_query: str | None = None,
               as_read: dict[int, RetrievedPassage] | None = None) -> Answer:
        """A reader's result as an answer with its citation, or an abstention citing the
        sentences closest to what was searched. `as_read`: every passage the reader saw, when
        more than `passages`."""
        by_id = {**(as_read or {}), **{p.passage_id: p for p in passages}}
        citations: list[Citation] = []
        answer_text = None
        span = result.best
        if self.policy.answers(result) and span is not None:
            passage = by_id.get(span.passage_id)
            assert passage is not None, "reader cited a passage it was not given"
            answer_text = passage.text[span.answer_start - passage.start :
                                       span.answer_end - passage.start]
            citations.append(citation_of(span, passage))
        else:
            for p in passages:
                s, e = closest_sentence(search_query or question, p)
                citations.append(Citation(p.document_id, p.title, p.passage_id, s, e,
                                          p.text[s - p.start : e - p.start], None, None,
                                          p.published))
            citations = distinct_citations(citations)
        return Answer(
            question=question, answer=answer_text,
            confidence=result.confidence,
            no_answer_probability=round(result.no_answer_probability, 4),
            citations=citations, passages=passages,
            timings_ms={k: round(v, 2) for k, v in timings_ms.items()},
            as_of=citations[0].published if answer_text is not None else None,
        )
