"""The service's contracts (citations, abstention, ingest, filters, restart, concurrency) on
the fake models: what holds whatever the models answer. tests/test_service.py checks the same
service on the real models, answers included."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import counting_encoder
from contracts import STORM, check_offsets, check_widened
from fakes import HashingEncoder, OverlapReader, content_words

from qa.corpus import DocumentError, DocumentTooLarge, embedding_input
from qa.loaders import load_paths
from qa.retriever import PassageFilter
from qa.service import QAService, QuestionError
from qa.settings import Settings
from qa.types import Answer, NewDocument

from .conftest import ServiceFactory

MET = "Where did Mashaal and Soleimani meet?"
# The sentence of the sample the overlap reader answers MET with (all three content words).
MET_ANSWER = "Mashaal was only allowed to meet with Soleimani"


def test_an_answer_is_the_readers_span_cited_at_its_offsets(service: QAService) -> None:
    answer = service.ask(MET)
    assert answer.answer is not None and answer.answer.startswith(MET_ANSWER)
    assert answer.confidence == 1.0 and answer.no_answer_probability == 0.0
    check_offsets(service, answer)
    assert answer.citations[0].answer_start is not None
    assert answer.passages and answer.citations[0].passage_id in {
        p.passage_id for p in answer.passages}
    assert {"retrieve", "read", "queue"} <= set(answer.timings_ms)


def test_below_the_threshold_it_abstains_and_cites_the_closest_sentences(
        service: QAService) -> None:
    # Two of the question's five content words are in one sentence: confidence 0.4 < 0.5
    # (and the passages read are about it: cosine over min_similarity).
    answer = service.ask("Which stadium did Mashaal and Soleimani tour yesterday?")
    assert answer.answer is None and 0 < answer.confidence < service.abstain_threshold
    check_offsets(service, answer)
    assert all(c.answer_start is None for c in answer.citations)
    quotes = [" ".join(c.quote.lower().split()) for c in answer.citations]
    assert len(quotes) == len(set(quotes))  # no quote cited twice


def test_a_confidence_at_the_threshold_is_an_answer(service: QAService) -> None:
    # Two of four content words: confidence 0.5, the threshold itself.
    answer = service.ask("Which stadium did Mashaal and Soleimani tour?")
    assert answer.confidence == service.abstain_threshold == 0.5
    assert answer.answer is not None and answer.answer.startswith(MET_ANSWER)


def test_a_question_about_nothing_read_abstains_with_zero_confidence(service: QAService) -> None:
    answer = service.ask("What is the population of Brazil?")
    assert answer.answer is None and answer.confidence == 0.0
    assert answer.no_answer_probability == 1.0


def test_bad_input_is_rejected(service: QAService, make_service: ServiceFactory) -> None:
    for question in ("", "   \n"):
        with pytest.raises(QuestionError, match="empty"):
            service.ask(question)
    with pytest.raises(QuestionError, match="limit"):
        service.ask("why " * 300)
    with pytest.raises(DocumentError, match="empty"):
        service.add_documents([NewDocument("Title", "  \n ")])
    small = make_service(service.settings.data_dir, max_document_bytes=100)
    with pytest.raises(DocumentTooLarge):
        small.add_documents([NewDocument("Big", "word " * 100)])


def embedded(service: QAService, document_id: str) -> set[str]:
    """What the encoder is given for a document: its passages' and sentences' inputs."""
    document = service.corpus.document(document_id)
    assert document is not None
    records = service.corpus.store.document_passages(document_id)
    spans = {(r.start, r.end) for r in records} | {(x.start, x.end) for r in records
                                                   for x in r.sentences}
    return {embedding_input(document.title, document.text[a:b]) for a, b in spans}


def test_reingest_embeds_nothing_and_an_edit_only_what_changed(service: QAService,
                                                               sample_path: Path,
                                                               sample_text: str) -> None:
    before = service.corpus.passage_count()
    with counting_encoder(service) as calls:
        results = service.add_documents(load_paths([sample_path]).documents)
    assert [r.created for r in results] == [False] and sum(calls) == 0
    assert service.corpus.passage_count() == before

    edited = sample_text + "\nHamas officials later confirmed the meeting to reporters in Gaza.\n"
    with counting_encoder(service) as calls:
        first = service.add_documents([NewDocument("Report (updated)", edited)])[0]
    # A new title is part of every input: all is embedded, each distinct input once.
    assert first.created and calls == [len(embedded(service, first.document.id))]
    with counting_encoder(service) as calls:
        again = service.add_documents([NewDocument("Report (updated)",
                                                   edited + "More details were not given.")])[0]
    # The same title: only the changed last passage and sentence are embedded again.
    new = embedded(service, again.document.id) - embedded(service, first.document.id)
    assert again.created and calls == [len(new)] and 0 < len(new) <= 3
    assert service.delete_document(first.document.id)
    assert service.delete_document(again.document.id)
    assert service.corpus.passage_count() == before


def test_filters_and_delete(service: QAService) -> None:
    sample_ids = set(service.corpus.document_ids())
    doc_id = service.add_documents([STORM])[0].document.id
    question = "Which town was worst affected by the storm?"
    answer = service.ask(question)
    assert answer.answer is not None and "Harwick" in answer.answer
    check_offsets(service, answer)
    only_sample = service.ask(question, where=PassageFilter(document_ids=sorted(sample_ids)))
    assert only_sample.passages and all(p.document_id in sample_ids for p in only_sample.passages)
    dated = service.ask("storm", where=PassageFilter(published_from="2024-05-01",
                                                     published_to="2024-05-31",
                                                     require_date=True))
    assert dated.passages and {p.document_id for p in dated.passages} == {doc_id}
    # the undated sample's date is unknown, not outside the range: it is kept
    kept = service.ask("storm", top_k=20, where=PassageFilter(published_from="2024-05-01",
                                                              published_to="2024-05-31"))
    assert {p.document_id for p in kept.passages} == {doc_id, *sample_ids}
    nothing = service.ask(question, where=PassageFilter(published_from="1990-01-01",
                                                        published_to="1990-12-31",
                                                        require_date=True))
    assert not nothing.passages and nothing.answer is None and nothing.notice

    passage_ids = [p.id for p in service.corpus.store.document_passages(doc_id)]
    assert service.delete_document(doc_id)
    assert not service.delete_document(doc_id)
    assert service.corpus.document(doc_id) is None
    assert not set(passage_ids) & service.corpus.index.ids()
    assert all(p.document_id != doc_id for p in service.ask(question).passages)


def test_widened_passages_keep_exact_citations(service: QAService,
                                               make_service: ServiceFactory) -> None:
    wide = make_service(service.settings.data_dir, read_expand_sentences=1)
    check_widened(wide, MET, wide.ask(MET))


def test_concurrent_asks_during_ingest(service: QAService) -> None:
    errors: list[BaseException] = []
    answers: list[str | None] = []

    def asker() -> None:
        try:
            for _ in range(5):
                a = service.ask(MET)
                check_offsets(service, a)
                answers.append(a.answer)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=asker) for _ in range(3)]
    for t in threads:
        t.start()
    added = service.add_documents([
        NewDocument(f"Filler {i}", f"Filler article number {i} talks about weather in town {i}.")
        for i in range(5)])
    for t in threads:
        t.join()
    assert not errors and len(answers) == 15
    assert len(set(answers)) == 1 and MET_ANSWER in str(answers[0])
    for r in added:
        assert service.delete_document(r.document.id)


def test_restart_keeps_everything_and_a_damaged_index_is_rebuilt(
        service: QAService, make_service: ServiceFactory, data_dir: Path) -> None:
    expected = service.ask(MET).answer
    reopened = make_service(data_dir)
    assert reopened.corpus.document_ids() == service.corpus.document_ids()
    assert reopened.ask(MET).answer == expected

    index_path = service.settings.index_path
    index_path.write_bytes(b"garbage")
    rebuilt = make_service(data_dir)
    rebuilt.corpus.open()
    stored = {p.id for d in rebuilt.corpus.document_ids()
              for p in rebuilt.corpus.store.document_passages(d)}
    assert rebuilt.corpus.index.ids() == stored and rebuilt.corpus.indexed_count() == len(stored)
    index_path.unlink()
    again = make_service(data_dir)
    assert again.ask(MET).answer == expected
    assert index_path.exists()


def test_another_encoder_re_embeds_every_passage_and_never_mixes_vectors(
        tmp_path: Path, sample_path: Path) -> None:
    """What switching QA_ENCODER_RUNTIME does to a data dir: vectors are stored under the
    encoder's name, and a service opening it with another encoder embeds every passage again."""
    class OtherEncoder(HashingEncoder):
        name = "another-test-encoder"

        def __init__(self) -> None:
            super().__init__()
            self.calls: list[int] = []  # texts per encode call

        def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
            self.calls.append(len(texts))
            return -super().encode(texts, progress)  # other vectors: every cosine negated

    first = QAService(Settings(data_dir=tmp_path), encoder=HashingEncoder(),
                      reader=OverlapReader())
    first.add_documents(load_paths([sample_path]).documents)
    expected = first.ask(MET).answer
    stored = len(first.corpus.store.passage_ids_without_vector("another-test-encoder"))
    first.close()
    assert stored > 0

    other = OtherEncoder()
    second = QAService(Settings(data_dir=tmp_path), encoder=other, reader=OverlapReader())
    second.corpus.open()
    assert second.corpus.store.passage_ids_without_vector("another-test-encoder") == []
    assert second.corpus.store.passage_ids_without_vector(HashingEncoder.name) != []
    assert other.calls[0] == stored  # every passage, in one call at open
    assert second.ask(MET).answer == expected  # searched with its own vectors
    second.close()


def test_an_exact_index_past_the_ivf_size_becomes_ivf(tmp_path: Path,
                                                      make_service: ServiceFactory) -> None:
    """A corpus grown past QA_IVF_THRESHOLD by ingests is searched through an IVF index: one
    crossing it by an add switches at once, one stored exact before switches when opened."""
    ledger = [NewDocument(title=f"Ledger {i}", text=f"Shipment {i} brought {i} crates of "
                          f"apples from orchard {i}.") for i in range(40)]
    first = make_service(tmp_path / "opened")
    first.add_documents(ledger[:30])
    assert first.corpus.index.kind == "faiss flat"
    first.close()
    reopened = make_service(tmp_path / "opened", ivf_threshold=30)
    reopened.corpus.open()
    assert reopened.corpus.index.kind == "faiss ivf" and reopened.corpus.indexed_count() == 30

    grown = make_service(tmp_path / "grown", ivf_threshold=30)
    grown.add_documents(ledger[:29])
    assert grown.corpus.index.kind == "faiss flat"
    grown.add_documents(ledger[29:])
    assert grown.corpus.index.kind == "faiss ivf" and grown.corpus.indexed_count() == 40
    found = grown.search("crates of apples from orchard 35", 1)
    assert found[0].title == "Ledger 35"


def test_the_overlap_reader_is_what_answers(service: QAService) -> None:
    """The fakes are in use (not the real models): this tier must stay fast."""
    assert type(service.reader).__name__ == "OverlapReader"
    assert service.corpus.encoder.name == "hashing-test-encoder"
    assert content_words(MET) == {"mashaal", "soleimani", "meet"}


def test_close_waits_for_the_question_in_progress(tmp_path: Path, sample_path: Path) -> None:
    """A streamed question's worker can outlive its request: closing the service (the app's
    shutdown) waits for it rather than closing the database under it."""
    from fakes import HashingEncoder, OverlapReader

    from qa.settings import Settings
    from qa.types import ReaderResult, RetrievedPassage

    reading, release = threading.Event(), threading.Event()

    class SlowReader(OverlapReader):
        def read(self, question: str, passages: list[RetrievedPassage]) -> ReaderResult:
            reading.set()
            release.wait(10)
            return super().read(question, passages)

    svc = QAService(Settings(data_dir=tmp_path), encoder=HashingEncoder(), reader=SlowReader())
    svc.add_documents(load_paths([sample_path]).documents)
    answers: list[Answer] = []
    asking = threading.Thread(target=lambda: answers.append(svc.ask(MET)))
    asking.start()
    assert reading.wait(10)
    closing = threading.Thread(target=svc.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive()  # waiting for the question
    release.set()
    asking.join(10)
    closing.join(10)
    assert not closing.is_alive() and answers and answers[0].citations


def test_a_newer_report_read_for_comparison_is_returned_after_the_passages_read(
        tmp_path: Path, make_service: ServiceFactory) -> None:
    service = make_service(tmp_path, read_passages=1, newer_report_probability=0.0)
    service.add_documents([
        NewDocument("Fire crews", "Officials said 900 firefighters fought the Cedar Ridge fire "
                    "near Marlow Springs on Saturday.", published="2023-08-12"),
        NewDocument("Fire update", "By Monday the county said 1,100 firefighters were on the "
                    "lines.", published="2023-08-14")])
    question = "How many firefighters fought the Cedar Ridge fire near Marlow Springs?"
    passages, read, result = service.read(question, 10)
    assert result.best is not None and [p.published for p in read.values()] == ["2023-08-12"]
    more, read_more, placed = service.read_newer_report(question, result, passages, read)
    [newer] = [p for p in read_more.values() if p.passage_id not in read]
    assert newer.published == "2023-08-14"
    assert [p.passage_id for p in placed] == [passages[0].passage_id, newer.passage_id] + [
        p.passage_id for p in passages[1:] if p.passage_id != newer.passage_id]
    assert len(more.candidates) > len(result.candidates)

    answer = service.ask(question, top_k=2)
    returned = {p.passage_id for p in answer.passages}
    cited = [c for c in answer.citations] + [
        c for alt in (answer.disagreement or []) + answer.agreement for c in alt.citations]
    assert {c.passage_id for c in cited} <= returned


class SameSlot:
    """A same-slot judge that takes every pair for answers to the same question."""

    @staticmethod
    def same_slot(*_args: object) -> bool:
        return True


def test_sources_about_another_subject_are_not_compared(make_service: ServiceFactory,
                                                         tmp_path: Path) -> None:
    from qa.types import AnswerSpan, Candidate, ReaderResult

    svc = make_service(tmp_path)
    svc.add_documents([
        NewDocument("Fire update", "Alan Whitcomb is the director, Sorrel County said.",
                    published="2023-08-14"),
        NewDocument("Storm update", "Renata Solis is the director, officials said.",
                    published="2023-12-12")])
    svc.slot_model = SameSlot()  # type: ignore[assignment]
    read = {p.passage_id: p for p in svc.search("director", 5)}
    cands = []
    for p in read.values():
        name = p.text.split(" is ")[0]
        start = p.start + p.text.index(name)
        cands.append(Candidate(AnswerSpan(p.document_id, p.passage_id, start, start + len(name),
                                          p.start, p.end, 1.0), 0.9))
    fire = next(c for c in cands if read[c.span.passage_id].text.startswith("Alan"))
    result = ReaderResult(fire.span, 0.9, 0.1, candidates=tuple(cands))
    # the storm report names no Sorrel County: nothing to compare
    assert svc.compare_sources("Who is Sorrel County's director?", result, read) is None
    # asked without the name, the newer report is a rival answer, and wins
    rivals = svc.compare_sources("Who is the director?", result, read)
    assert rivals is not None and rivals.chosen.text == "Renata Solis"
