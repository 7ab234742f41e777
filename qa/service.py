"""The question-answering service: one object that ingests documents and answers questions.

A question goes through the stages in turn, each a small component with a `run` (and a
`warm_up` for its models): FirstStage (dense + lexical search, fused) -> Rescore -> ReadStage
(widen, read, re-rank) -> AnswerPolicy.screen -> compare sources -> Compose (answer or
abstention, citations). See `QAService._ask`."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from embeddings.encoder import Encoder
from qa.compose import Compose, Draft
from qa.corpus import Corpus, IngestResult
from qa.dates import DateMention
from qa.extractor import RuleExtractor
from qa.policy import AnswerPolicy
from qa.question import Question, QuestionError, validate_question
from qa.reader import NeuralReader, Reader, shared_neural_reader
from qa.reading import ReadStage, uses_neural_reader
from qa.retriever import HybridRetriever, PassageFilter
from qa.settings import Settings
from qa.stories import (
    CORRECTION_HEAD_CHARS,
    Comparison,
    SameSlotModel,
    compare,
    is_correction,
    question_names,
    shared_slot_model,
)
from qa.timing import StageTimer
from qa.types import Answer, NewDocument, ReaderResult, RetrievedPassage

# QuestionError is imported from here by api/ and tests (it lives in qa.question).
__all__ = ["QAService", "QuestionError", "abstain_threshold", "describe"]

NEWER_DEPTH = 10  # passages retrieved when a newer report is looked for among them
NEWER_PASSAGES = 1  # of those, read at most this many (2 gave the tuning stories nothing more)


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
        # The stages, in the order a question goes through them.
        self.retriever = HybridRetriever(self.corpus, settings)  # FirstStage, then Rescore
        self.read_stage = ReadStage(self.corpus, settings, reader)
        self._slot_model: SameSlotModel | None = None
        from embeddings.onnx_session import available_cores

        # Admission, not a lock: this many questions run at once, each to the end.
        self._slots = settings.max_concurrent_questions or available_cores() + 1
        self._admitted = threading.BoundedSemaphore(self._slots)

    @property
    def reader(self) -> Reader:
        return self.read_stage.reader

    @property
    def slot_model(self) -> SameSlotModel:
        """Whether two sources' answers are about the same thing (qa.stories)."""
        if self._slot_model is None:
            self._slot_model = shared_slot_model()
        return self._slot_model

    @slot_model.setter
    def slot_model(self, model: SameSlotModel) -> None:
        self._slot_model = model

    @functools.cached_property
    def policy(self) -> AnswerPolicy:
        """When an answer is given (threshold, off-topic, abstain): one policy for every stage,
        made once the reader (and so its threshold) is known."""
        return AnswerPolicy(self.abstain_threshold, self.settings.min_similarity)

    @functools.cached_property
    def composer(self) -> Compose:
        return Compose(self.policy, self.corpus)

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
        self.retriever.warm_up()
        self.read_stage.warm_up()
        from embeddings.nlp import load_sentence_splitter, load_spacy

        load_spacy()
        load_sentence_splitter()  # ingest's

    # documents -------------------------------------------------------------------------------
    def add_documents(self, docs: list[NewDocument], progress: bool = False) -> list[IngestResult]:
        return self.corpus.add(docs, progress=progress)

    def delete_document(self, document_id: str) -> bool:
        return self.corpus.delete(document_id)

    # questions -------------------------------------------------------------------------------
    def validate_question(self, question: str) -> Question:
        """The question as asked, cleaned like document text (qa.text), or QuestionError."""
        return validate_question(question, self.settings.max_question_chars)

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
        """The stages in turn: retrieve, rescore, read, the policy's screen, compare, compose."""
        timer = StageTimer()
        top_k = top_k or self.settings.top_k
        # a newer report's passage is returned after those read: only when top_k has room
        newer = self.settings.reads_newer_reports and top_k > self.settings.read_passages
        passages, as_read, result = self.read(query, max(top_k, NEWER_DEPTH) if newer else top_k,
                                              where, timer, on_stage)
        comparison = None
        if self.settings.compare_sources and self.policy.answers(result):
            if newer:
                with timer.stage("read_newer"):
                    result, as_read, passages = self.read_newer_report(query, result, passages,
                                                                       as_read)
            with timer.stage("compare"):
                comparison = self.compare_sources(query, result, as_read)
            result = chosen_by(comparison, result)
        return self.composer.run(Draft(question, query, result, passages[:top_k], as_read,
                                       timer.ms, comparison, where))

    def read(self, query: str, top_k: int, where: PassageFilter | None = None,
             timer: StageTimer | None = None, on_stage: Callable[[str], None] | None = None
             ) -> tuple[list[RetrievedPassage], dict[int, RetrievedPassage], ReaderResult]:
        """Retrieve (deep enough for the reader) and read, each stage timed and announced to
        `on_stage`: the passages (those read widened, re-ranked by the reader), every passage
        read by id, and the reader's result as the answer policy screened it."""
        timer = timer or StageTimer()
        notify = on_stage or (lambda _stage: None)
        notify("searching")
        with timer.stage("retrieve"):
            passages = self.retriever.retrieve(query, max(top_k, self.settings.read_passages),
                                               where, timer)
        notify("reading")
        with timer.stage("read"):
            reading = self.read_stage.run(query, passages)
        result = self.policy.screen(reading.result, list(reading.as_read.values()))
        return reading.passages, reading.as_read, result

    def read_newer_report(self, query: str, result: ReaderResult,
                          passages: list[RetrievedPassage], read: dict[int, RetrievedPassage]
                          ) -> tuple[ReaderResult, dict[int, RetrievedPassage],
                                     list[RetrievedPassage]]:
        """`result` with the candidates of one more passage, `read` with that passage, and
        `passages` with it (as read) placed right after the passages read first, so that the
        answer returns it: the best retrieved passage of a document not read, published on or
        after the answer's source, when the learned re-scorer gives it at least
        newer_report_probability (an update may rank below the passages read)."""
        s = self.settings
        source = read.get(result.best.passage_id) if result.best else None
        if source is None or not source.published:
            return result, read, passages
        seen = {p.document_id for p in read.values()}
        newer = [p for p in passages if p.document_id not in seen and p.published
                 and p.published >= source.published and p.probability is not None
                 and p.probability >= s.newer_report_probability][:NEWER_PASSAGES]
        if not newer:
            return result, read, passages
        wide = self.read_stage.widen(newer)
        extra = self.read_stage.reader.read(query, wide)
        added = {p.passage_id for p in wide}
        rest = [p for p in passages if p.passage_id not in added]
        at = sum(p.passage_id in read for p in rest)  # the passages read lead the list
        return (replace(result, candidates=result.candidates + extra.candidates),
                {**read, **{p.passage_id: p for p in wide}}, rest[:at] + wide + rest[at:])

    def compare_sources(self, question: str, result: ReaderResult,
                        read: dict[int, RetrievedPassage]) -> Comparison | None:
        """What the documents read say, compared (qa.stories); None when fewer than two
        speak with confidence."""
        assert result.best is not None
        docs = list(dict.fromkeys(c.span.document_id for c in result.candidates
                                  if self.policy.confident(c.confidence)))
        if len(docs) < 2:
            return None
        heads = self.corpus.heads(docs, CORRECTION_HEAD_CHARS)
        dates = {d: tuple(DateMention(*m) for m in layout.dates or ())
                 for d, layout in self.corpus.layouts(docs).items()}
        return compare(question, result.candidates, read, self.policy.threshold,
                       frozenset(d for d, (old, _) in heads.items() if old),
                       frozenset(d for d, (_, head) in heads.items() if is_correction(head)),
                       result.best, self.slot_model.same_slot,
                       self.corpus.naming(docs, question_names(question)), dates)

    def compose(self, question: str, result: ReaderResult, passages: list[RetrievedPassage],
                timings_ms: dict[str, float], search_query: str | None = None,
                as_read: dict[int, RetrievedPassage] | None = None) -> Answer:
        """Turn a reader's result into an answer with citations (or an abstention, which cites
        the sentences closest to what was searched): Compose.answer under this service's
        policy. `as_read`: every passage the reader saw, when more than `passages`."""
        return self.composer.answer(question, result, passages, timings_ms, search_query,
                                    as_read)

    def close(self, wait_s: float = 30.0) -> None:
        """Close the corpus once the questions in progress are done (up to `wait_s`): a
        streamed question's worker may outlive its request."""
        deadline = time.monotonic() + wait_s
        taken = sum(self._admitted.acquire(timeout=max(0.0, deadline - time.monotonic()))
                    for _ in range(self._slots))
        try:
            self.corpus.close()
        finally:
            for _ in range(taken):
                self._admitted.release()


def chosen_by(comparison: Comparison | None, result: ReaderResult) -> ReaderResult:
    """`result` with the span the comparison of sources chose (a newer or corrected report),
    when it chose another."""
    if comparison is None or comparison.chosen.span == result.best:
        return result
    confidence = comparison.chosen.candidate.confidence
    return replace(result, best=comparison.chosen.span, confidence=confidence,
                   no_answer_probability=1.0 - confidence)


def describe(answer: Answer) -> dict[str, Any]:
    """A JSON-ready view of an answer (the API and `qa ask --json` share it)."""
    from dataclasses import asdict

    data = asdict(answer)
    for p in data["passages"]:
        p.pop("sentences", None)
    return data
