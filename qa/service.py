"""The question-answering service: one object that ingests, retrieves, reads and cites."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from embeddings.encoder import Encoder
from qa.corpus import Corpus, IngestResult
from qa.dates import DateMention, mention_at
from qa.evidence import closest_sentence
from qa.extractor import RuleExtractor
from qa.reader import NeuralReader, Reader, shared_neural_reader
from qa.retriever import HybridRetriever, PassageFilter
from qa.settings import Settings
from qa.storage.documents import DocumentLayout, page_of
from qa.stories import (
    CORRECTION_HEAD_CHARS,
    Comparison,
    SameSlotModel,
    compare,
    is_correction,
    shared_slot_model,
    status,
)
from qa.text import clean_line
from qa.timing import StageTimer
from qa.types import (
    Alternative,
    Answer,
    AnswerDate,
    AnswerSpan,
    Citation,
    NewDocument,
    ReaderResult,
    RetrievedPassage,
    Source,
)

log = logging.getLogger(__name__)


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long)."""


def off_topic(passages: list[RetrievedPassage], min_similarity: float) -> bool:
    """True when dense search scored the passages and none reaches `min_similarity`."""
    scored = [p.similarity for p in passages if p.similarity is not None]
    return bool(scored) and max(scored) < min_similarity


def rerank_by_reader(passages: list[RetrievedPassage],
                     scores: dict[int, float]) -> list[RetrievedPassage]:
    """Passages the reader scored first (most answer-bearing first), then the rest in order."""
    read = sorted((p for p in passages if p.passage_id in scores),
                  key=lambda p: -scores[p.passage_id])
    return read + [p for p in passages if p.passage_id not in scores]


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


def uses_neural_reader(settings: Settings) -> bool:
    """Whether these settings answer with the trained reader (else the rule-based extractor)."""
    return settings.reader == "neural" and NeuralReader.available(settings.reader_path)


def abstain_threshold(settings: Settings) -> float:
    """The confidence below which a service with these settings abstains: QA_ABSTAIN_THRESHOLD
    when set, else the reader's own (the process's shared neural reader, whose calibration is
    read once; the rule extractor's 0.5), without opening a corpus."""
    if settings.abstain_threshold is not None:
        return settings.abstain_threshold
    if uses_neural_reader(settings):
        return shared_neural_reader(settings.reader_path, settings.torch_threads,
                                    settings.reader_retrieval_weight,
                                    settings.caption_weight).abstain_threshold
    return RuleExtractor.abstain_threshold


class QAService:
    def __init__(self, settings: Settings, *, encoder: Encoder | None = None,
                 reader: Reader | None = None):
        """`encoder` and `reader` replace the models the settings name (the fast test tier
        passes small fakes); by default each loads once per process on first use."""
        self.settings = settings
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        self.corpus = Corpus(settings, encoder)
        self.retriever = HybridRetriever(self.corpus, settings)
        self._reader: Reader | None = reader
        self._slot_model: SameSlotModel | None = None
        from embeddings.onnx_session import available_cores

        # Admission, not a lock: this many questions run at once, each to the end.
        self._admitted = threading.BoundedSemaphore(
            settings.max_concurrent_questions or available_cores() + 1)

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            if uses_neural_reader(self.settings):
                self._reader = shared_neural_reader(
                    self.settings.reader_path, self.settings.torch_threads,
                    self.settings.reader_retrieval_weight, self.settings.caption_weight)
            else:
                if self.settings.reader == "neural":
                    log.warning("no trained reader found; using the rule-based extractor")
                self._reader = RuleExtractor(self.corpus.encoder)
        return self._reader

    @property
    def slot_model(self) -> SameSlotModel:
        """Whether two sources' answers are about the same thing (qa.stories)."""
        if self._slot_model is None:
            self._slot_model = shared_slot_model()
        return self._slot_model

    @slot_model.setter
    def slot_model(self, model: SameSlotModel) -> None:
        self._slot_model = model

    @property
    def abstain_threshold(self) -> float:
        """QA_ABSTAIN_THRESHOLD when set, else the threshold of the reader in use."""
        explicit = self.settings.abstain_threshold
        return self.reader.abstain_threshold if explicit is None else explicit

    @property
    def reader_name(self) -> str:
        return "neural" if isinstance(self.reader, NeuralReader) else "rules"

    def warm_up(self) -> None:
        """Load every model and the index now, so the first question is fast."""
        self.corpus.open()
        self.corpus.encoder.encode(["warm up"])
        if isinstance(self.reader, NeuralReader):
            self.reader.load()
        if self.settings.rescores and self.settings.rescorer == "learned":
            self.retriever.ranker()  # a missing or unreadable model fails here, not per question
        from embeddings.nlp import load_spacy

        load_spacy()

    # documents -------------------------------------------------------------------------------
    def add_documents(self, docs: list[NewDocument], progress: bool = False) -> list[IngestResult]:
        return self.corpus.add(docs, progress=progress)

    def delete_document(self, document_id: str) -> bool:
        return self.corpus.delete(document_id)

    # questions -------------------------------------------------------------------------------
    def validate_question(self, question: str) -> str:
        """The question as asked, cleaned like document text (qa.text), or QuestionError."""
        question = clean_line(question)
        if not question:
            raise QuestionError("question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"question is {len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        return question

    def ask(self, question: str, top_k: int | None = None,
            where: PassageFilter | None = None, search_query: str | None = None,
            on_stage: Callable[[str], None] | None = None) -> Answer:
        """Answer `question` from the corpus. `search_query` (e.g. a rewritten follow-up)
        replaces the question for retrieval and reading when given. `on_stage` is called with
        "searching" and "reading" as those stages start (for streaming progress)."""
        question = self.validate_question(question)
        arrived = time.perf_counter()
        with self._admitted:
            queued_ms = (time.perf_counter() - arrived) * 1000
            answer = self._ask(question, top_k, where, search_query or question, on_stage)
        answer.timings_ms["queue"] = round(queued_ms, 2)
        return answer

    def search(self, query: str, top_k: int, where: PassageFilter | None = None
               ) -> list[RetrievedPassage]:
        """The passages that best match `query` (retrieval alone), admitted like a question."""
        query = self.validate_question(query)
        with self._admitted:
            return self.retriever.retrieve(query, top_k, where)

    def _ask(self, question: str, top_k: int | None, where: PassageFilter | None, query: str,
             on_stage: Callable[[str], None] | None) -> Answer:
        timer = StageTimer()
        top_k = top_k or self.settings.top_k
        passages, as_read, result = self.read(query, top_k, where, timer, on_stage)
        comparison = None
        if (self.settings.compare_sources and result.best is not None
                and result.confidence >= self.abstain_threshold):
            with timer.stage("compare"):
                comparison = self.compare_sources(query, result, as_read)
            if comparison is not None and comparison.chosen.span != result.best:
                confidence = comparison.chosen.candidate.confidence
                result = replace(result, best=comparison.chosen.span, confidence=confidence,
                                 no_answer_probability=1.0 - confidence)
        answer = self.compose(question, result, passages[:top_k], timer.ms, query,
                              as_read=as_read)
        if not passages and where is not None and where.active:
            answer.notice = f"No article matches the filter ({where.describe()})."
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
                for d in self.corpus.store.duplicates(answer.citations[0].document_id)
                if d.current and admitted.admits(d.id, d.published)]
        return self.with_layout(answer)

    def with_layout(self, answer: Answer) -> Answer:
        """`answer` with, for each citation, the page it is on (a PDF's) and the kind of line
        it quotes (body, caption...): one query for all the documents cited."""
        alternatives = answer.disagreement or []
        cited = [*answer.citations, *answer.agreement, *(c for a in alternatives for c in a.citations)]
        layouts = self.corpus.store.document_layout(list({c.document_id for c in cited}))
        if not layouts:
            return answer

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

    def read(self, query: str, top_k: int, where: PassageFilter | None = None,
             timer: StageTimer | None = None, on_stage: Callable[[str], None] | None = None
             ) -> tuple[list[RetrievedPassage], dict[int, RetrievedPassage], ReaderResult]:
        """Retrieve and read: the passages (those read widened, re-ranked by the reader), every
        passage read by id, and the reader's result (no answer when nothing read is about the
        question)."""
        timer = timer or StageTimer()
        notify = on_stage or (lambda _stage: None)
        notify("searching")
        with timer.stage("retrieve"):
            passages = self.retriever.retrieve(query, max(top_k, self.settings.read_passages),
                                               where, timer)
        notify("reading")
        with timer.stage("read"):
            read = self.corpus.expand(passages[: self.settings.read_passages],
                                      self.settings.read_expand_sentences)
            result = self.reader.read(query, read)
        if result.best is not None and off_topic(read, self.settings.min_similarity):
            # Nothing read is about the question: whatever span the reader found is a guess.
            result = ReaderResult(None, 0.0, 1.0, result.passage_scores)
        # The passages returned are those the reader saw (widened ones included), so that a
        # citation always lies inside the passage it names.
        as_read = {p.passage_id: p for p in read}
        passages = [as_read.get(p.passage_id, p) for p in passages]
        if self.settings.rerank == "reader" and result.passage_scores:
            passages = rerank_by_reader(passages, result.passage_scores)
        return passages, as_read, result

    def compare_sources(self, question: str, result: ReaderResult,
                        read: dict[int, RetrievedPassage]) -> Comparison | None:
        """What the documents read say, compared (qa.stories); None when fewer than two
        speak with confidence."""
        assert result.best is not None
        docs = list(dict.fromkeys(c.span.document_id for c in result.candidates
                                  if c.confidence >= self.abstain_threshold))
        if len(docs) < 2:
            return None
        heads = self.corpus.store.document_heads(docs, CORRECTION_HEAD_CHARS)
        return compare(question, result.candidates, read, self.abstain_threshold,
                       frozenset(d for d, (old, _) in heads.items() if old),
                       frozenset(d for d, (_, head) in heads.items() if is_correction(head)),
                       result.best, self.slot_model.same_slot)

    def compose(self, question: str, result: ReaderResult, passages: list[RetrievedPassage],
                timings_ms: dict[str, float], search_query: str | None = None,
                as_read: dict[int, RetrievedPassage] | None = None) -> Answer:
        """Turn a reader's result into an answer with citations (or an abstention, which cites
        the sentences closest to what was searched). `as_read`: every passage the reader saw,
        when more than `passages`."""
        by_id = {**(as_read or {}), **{p.passage_id: p for p in passages}}
        citations: list[Citation] = []
        answer_text = None
        span = result.best
        answered = span is not None and result.confidence >= self.abstain_threshold
        if answered and span is not None:
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

    def close(self) -> None:
        self.corpus.close()


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


def citation_of(span: AnswerSpan, passage: RetrievedPassage) -> Citation:
    """The citation of an answer span: its evidence sentence(s) quoted from the passage."""
    return Citation(
        document_id=span.document_id, title=passage.title, passage_id=span.passage_id,
        start=span.evidence_start, end=span.evidence_end,
        quote=passage.text[span.evidence_start - passage.start : span.evidence_end - passage.start],
        answer_start=span.answer_start, answer_end=span.answer_end, published=passage.published,
    )


def describe(answer: Answer) -> dict[str, Any]:
    """A JSON-ready view of an answer (the API and `qa ask --json` share it)."""
    from dataclasses import asdict

    data = asdict(answer)
    for p in data["passages"]:
        p.pop("sentences", None)
    return data
