"""The question-answering service: one object that ingests, retrieves, reads and cites."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from qa.corpus import Corpus, IngestResult
from qa.evidence import closest_sentence
from qa.extractor import RuleExtractor
from qa.reader import NeuralReader, Reader, shared_neural_reader
from qa.retriever import HybridRetriever, PassageFilter
from qa.settings import Settings, get_settings
from qa.text import clean_line
from qa.timing import StageTimer
from qa.types import Answer, Citation, NewDocument, ReaderResult, RetrievedPassage

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
                                    settings.reader_retrieval_weight).abstain_threshold
    return RuleExtractor.abstain_threshold


class QAService:
    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        self.corpus = Corpus(settings)
        self.retriever = HybridRetriever(self.corpus, settings)
        self._reader: Reader | None = None

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            if uses_neural_reader(self.settings):
                self._reader = shared_neural_reader(
                    self.settings.reader_path, self.settings.torch_threads,
                    self.settings.reader_retrieval_weight)
            else:
                if self.settings.reader == "neural":
                    log.warning("no trained reader found; using the rule-based extractor")
                self._reader = RuleExtractor(self.corpus.encoder)
        return self._reader

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
        query = search_query or question
        timer = StageTimer()
        top_k = top_k or self.settings.top_k
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
        return self.compose(question, result, passages[:top_k], timer.ms, query)

    def compose(self, question: str, result: ReaderResult, passages: list[RetrievedPassage],
                timings_ms: dict[str, float], search_query: str | None = None) -> Answer:
        """Turn a reader's result into an answer with citations (or an abstention, which cites
        the sentences closest to what was searched)."""
        by_id = {p.passage_id: p for p in passages}
        citations: list[Citation] = []
        answer_text = None
        span = result.best
        answered = span is not None and result.confidence >= self.abstain_threshold
        if answered and span is not None:
            passage = by_id.get(span.passage_id)
            assert passage is not None, "reader cited a passage it was not given"
            doc_text_at = passage.start
            answer_text = passage.text[span.answer_start - doc_text_at : span.answer_end - doc_text_at]
            citations.append(Citation(
                document_id=span.document_id, title=passage.title, passage_id=span.passage_id,
                start=span.evidence_start, end=span.evidence_end,
                quote=passage.text[span.evidence_start - doc_text_at : span.evidence_end - doc_text_at],
                answer_start=span.answer_start, answer_end=span.answer_end,
            ))
        else:
            for p in passages:
                s, e = closest_sentence(search_query or question, p)
                citations.append(Citation(p.document_id, p.title, p.passage_id, s, e,
                                          p.text[s - p.start : e - p.start], None, None))
            citations = distinct_citations(citations)
        return Answer(
            question=question, answer=answer_text,
            confidence=result.confidence,
            no_answer_probability=round(result.no_answer_probability, 4),
            citations=citations, passages=passages,
            timings_ms={k: round(v, 2) for k, v in timings_ms.items()},
        )

    def close(self) -> None:
        self.corpus.close()


@functools.cache
def _service_for(key: str) -> QAService:
    return QAService(Settings.model_validate_json(key))


def get_service(settings: Settings | None = None) -> QAService:
    """One service (and so one set of models) per process and settings."""
    settings = settings or get_settings()
    # Access-control settings belong to the API layer; they never call for a second service.
    return _service_for(settings.model_dump_json(exclude={"api_key", "ask_requires_key"}))


def describe(answer: Answer) -> dict[str, Any]:
    """A JSON-ready view of an answer (the API and `qa ask --json` share it)."""
    from dataclasses import asdict

    data = asdict(answer)
    for p in data["passages"]:
        p.pop("sentences", None)
    return data
