"""Storage on the fake encoder: the SQLite store, the passage index and the sentence vectors
kept in agreement through adds, deletes, restarts, a stale index and another process's
writes; conversations beside them in the same database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEncoder

from qa.corpus import Corpus, embedding_input
from qa.loaders import load_paths
from qa.settings import Settings
from qa.storage.conversations import ConversationStore, new_conversation_id
from qa.types import NewDocument

ENCODER = HashingEncoder()
QUAKE = NewDocument("Quake shakes valley", "An earthquake shook the Zelvan valley at dawn.\n\n"
                    "Nobody was hurt, the mayor of Zelvan said. Schools stay closed on Monday.")


def corpus_at(folder: Path) -> Corpus:
    return Corpus(Settings(data_dir=folder), ENCODER)


@pytest.fixture()
def corpus(tmp_path: Path, sample_path: Path) -> Iterator[Corpus]:
    c = corpus_at(tmp_path)
    c.add(load_paths([sample_path]).documents)
    yield c
    c.close()


def stored_passage_ids(corpus: Corpus) -> set[int]:
    return {p.id for d in corpus.document_ids() for p in corpus.store.document_passages(d)}


def test_passages_vectors_and_index_agree_with_the_text(corpus: Corpus) -> None:
    [doc_id] = corpus.document_ids()
    document = corpus.document(doc_id)
    assert document is not None
    records = corpus.store.document_passages(doc_id)
    assert records and all(document.text[r.start : r.end] == r.text for r in records)
    assert corpus.index.ids() == stored_passage_ids(corpus)
    assert corpus.passage_count() == corpus.indexed_count() == len(records)
    sentences = sorted({(x.start, x.end) for r in records for x in r.sentences})
    stored = corpus.store.sentence_vectors([(doc_id, a) for a, _ in sentences], ENCODER.name)
    assert len(stored) == len(sentences)
    for a, b in sentences:  # each sentence's vector is the encoder's, of its input
        expected = ENCODER.encode([embedding_input(document.title, document.text[a:b])])[0]
        np.testing.assert_allclose(stored[(doc_id, a)], expected, atol=1e-6)


def test_delete_leaves_nothing_behind(corpus: Corpus) -> None:
    quake = corpus.add([QUAKE])[0].document.id
    ids = {p.id for p in corpus.store.document_passages(quake)}
    assert [i for i, _ in corpus.lexical_search("Zelvan", 5)] and ids <= corpus.index.ids()
    assert corpus.delete(quake) and not corpus.delete(quake)
    assert corpus.document(quake) is None and corpus.passages(sorted(ids)) == {}
    assert not ids & corpus.index.ids() and corpus.lexical_search("Zelvan", 5) == []
    assert corpus.store.sentence_vectors([(quake, 0)], ENCODER.name) == {}
    assert corpus.index.ids() == stored_passage_ids(corpus)


def test_a_restart_reads_back_what_was_written(corpus: Corpus, tmp_path: Path) -> None:
    before = [(d.id, d.title, d.text) for d in corpus.documents()]
    corpus.close()
    reopened = corpus_at(tmp_path)
    assert [(d.id, d.title, d.text) for d in reopened.documents()] == before
    assert reopened.index.ids() == stored_passage_ids(reopened)
    reopened.close()


def test_a_stale_index_is_caught_up_from_the_store(corpus: Corpus, tmp_path: Path) -> None:
    """An index file older than the store (a crash between the store's commit and the index
    write) is repaired at open from the stored vectors."""
    index_path = corpus.settings.index_path
    old = tmp_path / "old.faiss"
    shutil.copy(index_path, old)
    quake = corpus.add([QUAKE])[0].document.id
    corpus.close()
    shutil.copy(old, index_path)
    reopened = corpus_at(tmp_path)
    assert reopened.index.ids() == stored_passage_ids(reopened)
    assert {i for i, _ in reopened.lexical_search("Zelvan", 5)} <= reopened.index.ids()
    hits = reopened.dense_search(ENCODER.encode(["earthquake Zelvan valley"])[0], 1)
    assert reopened.passages([hits[0][0]])[hits[0][0]].document_id == quake
    reopened.close()


def test_another_process_writes_are_seen(corpus: Corpus, tmp_path: Path) -> None:
    """A second corpus on the same folder (a `qa ingest` beside a running server)."""
    corpus.open()
    other = corpus_at(tmp_path)
    quake = other.add([QUAKE])[0].document.id
    hits = corpus.dense_search(ENCODER.encode(["earthquake Zelvan valley"])[0], 1)
    assert corpus.passages([hits[0][0]])[hits[0][0]].document_id == quake
    assert other.delete(quake)
    corpus.refresh()
    assert corpus.index.ids() == stored_passage_ids(corpus)
    other.close()


def test_conversations_live_beside_the_corpus_and_expire(corpus: Corpus) -> None:
    now = [datetime(2024, 1, 1, tzinfo=UTC)]
    store = ConversationStore(corpus.settings.db_path, ttl_hours=1, clock=lambda: now[0])
    cid = new_conversation_id()
    store.add_turn(cid, "Who met?", "Who met?", "Mashaal", [], create=True)
    store.add_turn(cid, "Where?", "Where did Mashaal meet?", None, [])
    conversation = store.get(cid)
    assert conversation is not None
    assert [(t.turn, t.question) for t in conversation.turns] == [(1, "Who met?"), (2, "Where?")]
    now[0] += timedelta(hours=2)
    assert store.get(cid) is None
    assert corpus.document_ids()  # the same database, the corpus untouched
    store.close()
