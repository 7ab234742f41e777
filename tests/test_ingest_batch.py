"""Ingest in batches: documents split in one spaCy stream (the sentence recognizer alone),
every new passage and sentence of a batch embedded in one encoder call, with the same offsets
and vectors as one document at a time; `qa ingest` feeds the corpus in batches and prints
each batch once stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import counting_encoder

from embeddings.nlp import load_sentence_splitter
from embeddings.splitter import PassageSplitter, split_sentences_many
from qa.corpus import embedding_input
from qa.service import QAService
from qa.settings import Settings, get_settings
from qa.types import NewDocument

TEXTS = [
    "The council met on Monday. It approved the ferry terminal after a long debate.\n"
    "Mayor Ines Duarte said work starts in April. \"We waited long enough,\" she said.",
    "Dr. Smith arrived at 9 a.m. in Lisbon. The U.S. delegation followed.",
    "One line only",
    "Headline\n\nA storm hit the coast. Thousands left their homes! Was it expected? No.",
]


def test_sentences_come_from_the_sentence_recognizer_in_one_stream(sample_text: str) -> None:
    texts = [*TEXTS, sample_text]
    sentences = split_sentences_many(texts)
    assert [[texts[1][s.start:s.end] for s, _ in sentences[1]],
            [texts[3][s.start:s.end] for s, _ in sentences[3]]] == [
        ["Dr. Smith arrived at 9 a.m. in Lisbon.", "The U.S. delegation followed."],
        # the recognizer cuts "No" | "." apart: punctuation alone joins the sentence before
        ["Headline", "A storm hit the coast.", "Thousands left their homes!", "Was it expected?",
         "No."]]
    # punctuation alone at a block's start joins the sentence after it
    opening = "... and so it went. Later it stopped."
    assert [opening[s.start:s.end] for s, _ in split_sentences_many([opening])[0]] == [
        "... and so it went.", "Later it stopped."]
    assert load_sentence_splitter().pipe_names == ["senter"]  # no parse
    splitter = PassageSplitter(4, 1, 1000)
    assert splitter.split_many(texts) == [splitter.split(t) for t in texts]
    assert split_sentences_many([]) == []


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[QAService]:
    service = QAService(Settings(data_dir=tmp_path / "data"))
    yield service
    service.close()


def test_a_batch_is_embedded_in_one_encoder_call_with_the_same_vectors(
        service: QAService) -> None:
    docs = [NewDocument(f"Story {i}", text) for i, text in enumerate(TEXTS)]
    with counting_encoder(service) as calls:
        results = service.add_documents([*docs, docs[0]])  # the same text twice: stored once
    assert len(calls) == 1 and [r.created for r in results] == [True] * 4 + [False]
    assert results[4].document.id == results[0].document.id

    store = service.corpus.store
    for doc, result in zip(docs, results, strict=False):
        passages = store.document_passages(result.document.id)
        assert [(p.start, p.end) for p in passages] == [
            (p.start, p.end) for p in service.corpus.splitter.split(
                doc.text, service.corpus.annotate(doc).regions)]
        alone = service.corpus.encoder.encode([embedding_input(doc.title, p.text) for p in passages])
        stored = store.vectors([p.id for p in passages], service.corpus.encoder.name)[1]
        assert np.abs(stored - alone).max() < 1e-5
    assert service.ask("When does work on the terminal start?").answer is not None

    with counting_encoder(service) as calls:
        again = service.add_documents(docs)  # nothing new: nothing embedded
    assert not calls and not any(r.created for r in again)


def test_cli_ingest_adds_in_batches_and_prints_every_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import qa.cli
    from qa.service import QAService

    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    monkeypatch.setattr(qa.cli, "INGEST_BATCH", 2)
    folder = tmp_path / "articles"
    folder.mkdir()
    for i, text in enumerate(TEXTS + ["Fifth story\n\nThe bridge opened on Tuesday."]):
        (folder / f"{i}.txt").write_text(text)
    batches: list[int] = []
    add = QAService.add_documents

    def recording(self: QAService, docs: list[NewDocument], progress: bool = False) -> list:
        batches.append(len(docs))
        return add(self, docs, progress)

    monkeypatch.setattr(QAService, "add_documents", recording)  # the command builds its own
    try:
        assert qa.cli.main(["ingest", str(folder)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert batches == [2, 2, 1] and len(lines) == 5
        assert all(line.startswith("added\t") for line in lines)
    finally:
        get_settings.cache_clear()
