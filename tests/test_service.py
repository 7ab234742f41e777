"""The service end to end on the real encoder, reader, FAISS index and SQLite store."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import counting_encoder
from contracts import STORM, check_offsets, check_widened

from qa.corpus import DocumentError, DocumentTooLarge, embedding_input
from qa.loaders import load_paths
from qa.retriever import rescore_by_sentence
from qa.service import QAService, QuestionError
from qa.settings import Settings
from qa.types import NewDocument, RetrievedPassage


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("svc")


@pytest.fixture(scope="module")
def service(data_dir: Path, sample_path: Path) -> QAService:
    svc = QAService(Settings(data_dir=data_dir))
    svc.add_documents(load_paths([sample_path]).documents)
    return svc


def test_where_did_they_meet_is_turkey_with_citation(service: QAService) -> None:
    answer = service.ask("where did they meet?")
    assert answer.answer in ("Turkey", "in Turkey")
    assert "Turkey" in answer.citations[0].quote
    check_offsets(service, answer)
    assert answer.passages and answer.passages[0].text
    assert {"retrieve", "read"} <= set(answer.timings_ms)


def test_who_reported_it_names_the_whole_source_with_its_citation(service: QAService) -> None:
    # The reader alone cut the name ("Saudi daily"); the source's name is made whole
    # (qa.attribution).
    answer = service.ask("Which newspaper reported the meeting between Mashaal and Soleimani?")
    assert answer.answer == "Saudi daily Al-Hayat"
    assert "Saudi daily Al-Hayat reported" in answer.citations[0].quote
    check_offsets(service, answer)


def test_unanswerable_question_abstains_and_still_cites(service: QAService) -> None:
    answer = service.ask("What is the population of Brazil?")
    assert answer.answer is None
    assert answer.citations and all(c.answer_start is None for c in answer.citations)
    check_offsets(service, answer)


def test_reingest_is_idempotent_and_embeds_nothing(service: QAService, sample_path: Path) -> None:
    before = service.corpus.store.passage_count()
    with counting_encoder(service) as calls:
        results = service.add_documents(load_paths([sample_path]).documents)
    assert [r.created for r in results] == [False]
    assert service.corpus.store.passage_count() == before
    assert sum(calls) == 0


def test_changed_article_reembeds_only_changed_passages(service: QAService,
                                                        sample_text: str) -> None:
    edited = sample_text + "\nHamas officials later confirmed the meeting to reporters in Gaza.\n"
    original = service.corpus.store.document_ids()[0]
    with counting_encoder(service) as calls:
        first = service.add_documents([NewDocument("Report (updated)", edited)])[0]
    # One call for the passages and the sentences (sentence re-scoring is on by default), each
    # distinct input once (the article repeats a few lines; a one-sentence passage is its
    # sentence). The title is part of what is embedded, so under a new title all is new...
    assert first.created and calls == [len(embedded(service, first.document.id))]
    assert not embedded(service, first.document.id) & embedded(service, original)
    with counting_encoder(service) as calls:
        again = service.add_documents([NewDocument("Report (updated)",
                                                   edited + "More details were not given.")])[0]
    # ...but with the same title only the changed last passage and sentence are embedded again.
    new = embedded(service, again.document.id) - embedded(service, first.document.id)
    assert again.created and calls == [len(new)] and 0 < len(new) <= 3
    assert service.delete_document(first.document.id)
    assert service.delete_document(again.document.id)


def embedded(service: QAService, document_id: str) -> set[str]:
    """What the encoder saw for a document: its passages' and sentences' inputs."""
    document = service.corpus.store.get_document(document_id)
    assert document is not None
    return {embedding_input(document.title, document.text[a:b])
            for a, b in {(r.start, r.end) for r in service.corpus.store.document_passages(
                document_id)} | distinct_sentences(service, document_id)}


def distinct_sentences(service: QAService, document_id: str) -> set[tuple[int, int]]:
    return {(x.start, x.end) for r in service.corpus.store.document_passages(document_id)
            for x in r.sentences}


def test_every_sentence_has_a_vector_and_rescoring_uses_the_best(service: QAService) -> None:
    corpus = service.corpus
    doc_id = corpus.store.document_ids()[0]
    sentences = distinct_sentences(service, doc_id)
    stored = corpus.store.sentence_vectors([(doc_id, a) for a, _ in sentences],
                                           corpus.encoder.name)
    assert len(stored) == len(sentences)
    question = "Where did Mashaal and Soleimani meet?"
    passages = service.retriever.retrieve(question, 3)
    query = corpus.encoder.encode([question])[0]
    best = corpus.sentence_similarity(passages, query)
    document = corpus.store.get_document(doc_id)
    assert document is not None and set(best) == {p.passage_id for p in passages}
    for p in passages:
        texts = [embedding_input(p.title, document.text[a:b]) for a, b in p.sentences]
        direct = corpus.encoder.encode(texts) @ query
        assert best[p.passage_id] == pytest.approx(float(direct.max()), abs=1e-5)


def test_rescore_by_sentence_reorders_by_the_best_sentence() -> None:
    def passage(pid: int, score: float) -> RetrievedPassage:
        return RetrievedPassage(pid, "d", "t", 0, 1, "x", score)

    fused = [passage(1, 0.0330), passage(2, 0.0325), passage(3, 0.0320)]
    out = rescore_by_sentence(fused, {1: 0.2, 2: 0.9}, weight=0.02)
    assert [p.passage_id for p in out] == [2, 1, 3]
    assert out[0].score == pytest.approx(0.0325 + 0.018)
    # weight 0 keeps the fused order
    assert [p.passage_id for p in rescore_by_sentence(fused, {3: 1.0}, 0.0)] == [1, 2, 3]
    # a passage without sentence vectors is scored by its passage cosine, not pushed down
    unscored = [passage(1, 0.0330), replace(passage(2, 0.0329), similarity=0.8)]
    out = rescore_by_sentence(unscored, {1: 0.5}, weight=0.02)
    assert [p.passage_id for p in out] == [2, 1]
    assert out[0].score == pytest.approx(0.0329 + 0.016)


def test_rescoring_switches_off_and_backfills_when_switched_on(
        tmp_path: Path, sample_path: Path) -> None:
    off = QAService(Settings(data_dir=tmp_path, rescorer="off"))
    off.add_documents(load_paths([sample_path]).documents)
    doc_id = off.corpus.store.document_ids()[0]
    model = off.corpus.encoder.name
    assert off.corpus.store.documents_without_sentence_vectors(model) == [doc_id]
    assert "rescore" not in off.ask("where did they meet?").timings_ms
    off.close()
    on = QAService(Settings(data_dir=tmp_path))
    on.warm_up()  # opening the corpus embeds the sentences it lacks
    assert on.corpus.store.documents_without_sentence_vectors(model) == []
    answer = on.ask("where did they meet?")
    assert "rescore" in answer.timings_ms and answer.answer in ("Turkey", "in Turkey")
    keys = [(doc_id, a) for a, _ in distinct_sentences(on, doc_id)]
    assert len(on.corpus.store.sentence_vectors(keys, model)) == len(keys)
    assert on.delete_document(doc_id)
    assert on.corpus.store.sentence_vectors(keys, model) == {}
    on.close()


def only_sample_ids(service: QAService, other: str) -> set[str]:
    return {d for d in service.corpus.store.document_ids() if d != other}


def test_filters_and_delete(service: QAService) -> None:
    added = service.add_documents([STORM])[0]
    doc_id = added.document.id
    answer = service.ask("Which town was worst affected by the storm?")
    assert answer.answer is not None and "Harwick" in answer.answer
    check_offsets(service, answer)
    from qa.retriever import PassageFilter

    only_sample = service.ask("Which town was worst affected by the storm?",
                              where=PassageFilter(document_ids=[
                                  d for d in service.corpus.store.document_ids() if d != doc_id]))
    assert all(p.document_id != doc_id for p in only_sample.passages)
    dated = service.ask("storm", where=PassageFilter(published_from="2024-05-01",
                                                     published_to="2024-05-31",
                                                     require_date=True))
    assert dated.passages and all(p.document_id == doc_id for p in dated.passages)
    # the undated sample article's date is unknown, not outside the range: it is kept
    kept = service.ask("storm", top_k=20, where=PassageFilter(published_from="2024-05-01",
                                                              published_to="2024-05-31"))
    assert {p.document_id for p in kept.passages} == {doc_id, *only_sample_ids(service, doc_id)}

    passage_ids = [p.id for p in service.corpus.store.document_passages(doc_id)]
    assert service.delete_document(doc_id)
    assert not service.delete_document(doc_id)
    assert not set(passage_ids) & service.corpus.index.ids()
    after = service.ask("Which town was worst affected by the storm?")
    assert all(p.document_id != doc_id for p in after.passages)


def test_bad_input_is_rejected(service: QAService) -> None:
    for question in ("", "   \n"):
        with pytest.raises(QuestionError, match="empty"):
            service.ask(question)
    with pytest.raises(QuestionError, match="limit"):
        service.ask("why " * 300)
    with pytest.raises(DocumentError, match="empty"):
        service.add_documents([NewDocument("Title", "  \n ")])
    small = QAService(Settings(data_dir=service.settings.data_dir, max_document_bytes=100))
    with pytest.raises(DocumentTooLarge):
        small.add_documents([NewDocument("Big", "word " * 100)])


def test_restart_keeps_everything(service: QAService, data_dir: Path) -> None:
    reopened = QAService(Settings(data_dir=data_dir))
    assert reopened.corpus.store.document_ids() == service.corpus.store.document_ids()
    assert reopened.ask("where did they meet?").answer in ("Turkey", "in Turkey")


def test_damaged_or_stale_index_is_rebuilt(service: QAService, data_dir: Path) -> None:
    index_path = service.settings.index_path
    index_path.write_bytes(b"garbage")
    rebuilt = QAService(Settings(data_dir=data_dir))
    rebuilt.corpus.open()
    assert rebuilt.corpus.index.ids() == set(
        p.id for d in rebuilt.corpus.store.document_ids()
        for p in rebuilt.corpus.store.document_passages(d)
    )
    index_path.unlink()
    again = QAService(Settings(data_dir=data_dir))
    assert again.ask("where did they meet?").answer in ("Turkey", "in Turkey")
    assert index_path.exists()


def test_concurrent_asks_during_ingest(service: QAService) -> None:
    errors: list[BaseException] = []
    answers: list[str | None] = []

    def asker() -> None:
        try:
            for _ in range(3):
                a = service.ask("where did they meet?")
                check_offsets(service, a)
                answers.append(a.answer)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=asker) for _ in range(2)]
    for t in threads:
        t.start()
    docs = [NewDocument(f"Filler {i}", f"Filler article number {i} talks about weather in town {i}.")
            for i in range(5)]
    added = service.add_documents(docs)
    for t in threads:
        t.join()
    assert not errors
    assert set(answers) <= {"Turkey", "in Turkey"}
    for r in added:
        service.delete_document(r.document.id)


def test_rerank_by_reader_puts_answer_bearing_passages_first() -> None:
    from qa.reading import rerank_by_reader
    from qa.types import RetrievedPassage

    passages = [RetrievedPassage(i, "d", "t", 0, 1, "x", 1.0 / (i + 1)) for i in range(5)]
    reordered = rerank_by_reader(passages, {0: -2.0, 1: 3.5, 2: 0.1})
    assert [p.passage_id for p in reordered] == [1, 2, 0, 3, 4]
    assert rerank_by_reader(passages, {}) == passages


def test_off_topic_question_abstains(service: QAService) -> None:
    """Nothing in the sample is about Brazil: the reader's best span must not be offered."""
    answer = service.ask("What is the population of Brazil?")
    assert answer.answer is None and answer.confidence == 0.0
    from qa.policy import off_topic
    from qa.types import RetrievedPassage

    def passage(similarity: float | None) -> RetrievedPassage:
        return RetrievedPassage(1, "d", "t", 0, 1, "x", 1.0, similarity=similarity)

    assert off_topic([passage(0.05), passage(0.02)], 0.1)
    assert not off_topic([passage(0.05), passage(0.3)], 0.1)
    assert not off_topic([passage(None)], 0.1)  # reading mode: nothing to judge by


def test_passages_are_widened_to_whole_neighbour_sentences(service: QAService) -> None:
    from qa.corpus import passage_runs

    store = service.corpus.store

    def inside_its_run(p: RetrievedPassage) -> bool:  # sentences of its run on both sides
        text = store.get_document(p.document_id).text  # type: ignore[union-attr]
        runs = passage_runs(store.document_passages(p.document_id), text)
        run = next(r for r in runs if r[0][0] <= p.start and p.end <= r[-1][1])
        return run[0][0] < p.start and p.end < run[-1][1]

    found = service.retriever.retrieve("Who reported the meeting?", 5)
    middle = next(p for p in found if inside_its_run(p))
    doc = service.corpus.store.get_document(middle.document_id)
    assert doc is not None
    assert service.corpus.expand([middle], 0) == [middle]
    wide = service.corpus.expand([middle], 1)[0]
    assert wide.start < middle.start and wide.end > middle.end
    assert wide.text == doc.text[wide.start : wide.end]
    assert len(wide.sentences) == len(middle.sentences) + 2  # one whole sentence each side
    assert wide.sentences[1:-1] == middle.sentences
    assert (wide.passage_id, wide.document_id) == (middle.passage_id, middle.document_id)
    whole = service.corpus.expand([middle], 1000)[0]
    same_kind = {(x.start, x.end) for r in service.corpus.store.document_passages(
        middle.document_id) for x in r.sentences if r.block == middle.block}
    # capped at the first and last sentence of its run of text (never into a caption)
    assert set(whole.sentences) <= same_kind and len(whole.sentences) > len(wide.sentences)


def test_a_widened_passage_stays_within_twice_a_passages_size(tmp_path: Path) -> None:
    # one endless "sentence" is stored as pieces of passage_max_chars: widening by sentences
    # alone would read seven of them
    wide = QAService(Settings(data_dir=tmp_path, read_expand_sentences=3))
    try:
        wide.add_documents([NewDocument("Run of words", "bridge toll " * 3000)])
        answer = wide.ask("How much is the bridge toll?")
        limit = 2 * wide.settings.passage_max_chars
        assert answer.passages and all(p.end - p.start <= limit for p in answer.passages)
        assert max(p.end - p.start for p in answer.passages) > wide.settings.passage_max_chars
    finally:
        wide.close()


def test_asking_with_widened_passages_keeps_exact_citations(service: QAService) -> None:
    wide = QAService(service.settings.model_copy(update={"read_expand_sentences": 1}))
    try:
        question = "where did they meet?"
        answer = wide.ask(question)
        assert answer.answer in ("Turkey", "in Turkey")
        check_widened(wide, question, answer)
    finally:
        wide.close()
