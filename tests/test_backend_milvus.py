"""The Milvus backend on a real Milvus Lite (embedded, loopback only), against the default
FAISS + FTS5 backend: the same passages found, filters, deletes, idempotent writes, crash
repair and `qa migrate-index`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (pip install -e '.[milvus]')")

from contracts import STORM  # noqa: E402

from qa.cli import main as qa_main  # noqa: E402
from qa.loaders import load_paths  # noqa: E402
from qa.migrate import migrate_index  # noqa: E402
from qa.retriever import PassageFilter  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.storage.backends import IndexedPassage, IndexFilter  # noqa: E402
from qa.storage.backends.faiss_sqlite import FaissIndex  # noqa: E402
from qa.storage.backends.milvus import (  # noqa: E402
    Fts5Terms,
    MilvusIndex,
    filter_expression,
    fts5_bm25,
)
from qa.storage.documents import DocumentStore, content_hash, fts_query, fts_words  # noqa: E402
from qa.types import NewDocument  # noqa: E402

MARKET = NewDocument(
    title="Fish market reopens",
    text="The old fish market in Harwick reopened on Monday after repairs.\n\nTraders said "
    "business was running slowly but that customers were returning.",
    published="2023-11-20",
)


def passages(n: int, dim: int = 8, seed: int = 0) -> list[IndexedPassage]:
    rng = np.random.default_rng(seed)
    texts = ["storms flooded the coastal towns", "the governor opened shelters",
             "a market reopened after repairs", "traders were running late", "nothing here"]
    dates = ["2024-05-02", None, "2023-11-20", "2024-06-30T10:00:00"]
    out = []
    for i in range(1, n + 1):
        v = rng.normal(size=dim).astype(np.float32)
        out.append(IndexedPassage(i, f"doc{i % 3}", dates[i % 4], texts[i % 5] + f" item{i}",
                                  v / np.linalg.norm(v)))
    return out


@pytest.fixture()
def milvus(tmp_path: Path) -> Iterator[MilvusIndex]:
    index = MilvusIndex(str(tmp_path / "milvus.db"), None, "passages", 8)
    yield index
    index.close()


def test_fts5_terms_are_porter_stems() -> None:
    assert Fts5Terms()(["The cats were Running, naïve!", ""]) == [
        ["the", "cat", "were", "run", "naiv"], []]


def test_filter_expression() -> None:
    assert filter_expression(None) == ""
    assert filter_expression(IndexFilter(document_ids=["a", "b"], published_from="2024-01-01",
                                         published_to="2024-05", exclude=frozenset({3, 1}))) == (
        'document_id in ["a", "b"] and (published >= "2024-01-01" or published == "") and '
        '(published < "2024-05~") and id not in [1, 3]')
    assert filter_expression(IndexFilter(published_from="2024", require_date=True)) == (
        '(published >= "2024") and published != ""')


def test_add_search_and_idempotent_writes(milvus: MilvusIndex) -> None:
    rows = passages(40)
    milvus.add(rows)
    milvus.add(rows[:10])  # a retried write
    assert milvus.count() == 40 and milvus.ids() == set(range(1, 41))
    # replaced by id: a new vector under an old id is what search finds
    moved = IndexedPassage(5, "doc2", None, "a brand new text", rows[20].vector)
    milvus.add([moved])
    assert milvus.count() == 40
    assert milvus.dense_search(rows[20].vector, 2)[:2] in (
        [(5, pytest.approx(1.0, abs=1e-5)), (21, pytest.approx(1.0, abs=1e-5))],
        [(21, pytest.approx(1.0, abs=1e-5)), (5, pytest.approx(1.0, abs=1e-5))])
    assert [pid for pid, _ in milvus.lexical_search("brand", 5)] == [5]


def test_same_results_as_the_faiss_backend(milvus: MilvusIndex, tmp_path: Path) -> None:
    rows = passages(60)
    store = DocumentStore(tmp_path / "qa.sqlite3")
    faiss = FaissIndex(store, tmp_path / "passages.faiss", 8)
    faiss.add(rows)
    milvus.add(rows)
    rng = np.random.default_rng(1)
    for _ in range(10):
        q = rng.normal(size=8).astype(np.float32)
        q /= np.linalg.norm(q)
        want = faiss.dense_search(q, 10)
        got = milvus.dense_search(q, 10)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    # lexical: every passage holding a word of the query, stemmed ("running" finds "run")
    found = {pid for pid, _ in milvus.lexical_search("Runs flooding", 100)}
    assert found == {r.id for r in rows if "running" in r.text or "flooded" in r.text}
    scores = [s for _, s in milvus.lexical_search("Runs flooding", 100)]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert milvus.lexical_search("!!!", 5) == []
    store.close()


def test_filters_and_deletes(milvus: MilvusIndex) -> None:
    rows = passages(40)
    milvus.add(rows)
    by_id = {r.id: r for r in rows}
    q = rows[0].vector
    hits = milvus.dense_search(q, 40, IndexFilter(document_ids=["doc1"]))
    assert {by_id[i].document_id for i, _ in hits} == {"doc1"}
    assert len(hits) == sum(r.document_id == "doc1" for r in rows)
    assert milvus.dense_search(q, 40, IndexFilter(document_ids=[])) == []
    # dates: undated kept unless required; a month as the upper limit covers all of it
    hits = milvus.dense_search(q, 40, IndexFilter(published_from="2024-05-01",
                                                  published_to="2024-05"))
    assert {by_id[i].published for i, _ in hits} == {"2024-05-02", None}
    hits = milvus.lexical_search("storm governor market trader nothing", 40,
                                 IndexFilter(published_from="2024-06-01", require_date=True))
    assert {by_id[i].published for i, _ in hits} == {"2024-06-30T10:00:00"}
    hits = milvus.dense_search(q, 40, IndexFilter(exclude=frozenset({1, 2, 3})))
    assert len(hits) == 37 and not {1, 2, 3} & {i for i, _ in hits}
    # a document's passages all go, even one the store did not list
    milvus.delete_documents(["doc0"], [3])
    assert milvus.ids() == {r.id for r in rows if r.document_id != "doc0"}
    milvus.remove([1, 4, 999])
    assert milvus.ids() == {r.id for r in rows if r.document_id != "doc0"} - {1, 4}


def test_reopened_collection_keeps_passages(tmp_path: Path) -> None:
    path = str(tmp_path / "milvus.db")
    first = MilvusIndex(path, None, "passages", 8)
    first.add(passages(20))
    first.close()
    again = MilvusIndex(path, None, "passages", 8)
    assert again.ids() == set(range(1, 21))
    other = MilvusIndex(path, None, "passages", 4)  # another encoder's dimension: starts empty
    assert other.count() == 0
    other.close()
    again.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, sample_path: Path
             ) -> tuple[QAService, QAService]:
    """The same documents in a FAISS-backed and a Milvus-backed service."""
    docs = [*load_paths([sample_path]).documents, STORM, MARKET]
    faiss = QAService(Settings(data_dir=tmp_path_factory.mktemp("faiss")))
    faiss.add_documents(docs)
    milvus = QAService(Settings(data_dir=tmp_path_factory.mktemp("milvus"), backend="milvus"))
    milvus.add_documents(docs)
    return faiss, milvus


def test_same_answers_through_the_service(services: tuple[QAService, QAService]) -> None:
    faiss, milvus = services
    assert milvus.corpus.index.kind == "milvus FLAT"
    assert milvus.corpus.index.ids() == milvus.corpus.store.embedded_passage_ids(
        milvus.corpus.encoder.name)
    for question in ("where did they meet?", "Which town was worst affected by the storm?",
                     "When did the fish market reopen?"):
        a, b = faiss.ask(question), milvus.ask(question)
        assert b.answer == a.answer
        assert [p.text for p in b.passages] == [p.text for p in a.passages]


def test_lexical_search_ranks_and_scores_as_fts5(services: tuple[QAService, QAService]) -> None:
    """Milvus's candidates scored again with FTS5's formula: the same passages, in the same
    order, with FTS5's scores, common words and repeated stems included."""
    faiss, milvus = services
    for query in ("where did they meet?", "Who reported the meeting?", "the of and",
                  "meeting meetings met", "Which town was worst affected by the storm?",
                  "fish market Harwick traders", "U.S. officials", "covid_19 storm", "zzz"):
        want = faiss.corpus.lexical_search(query, 50)
        got = milvus.corpus.lexical_search(query, 50)
        assert [i for i, _ in got] == [i for i, _ in want], query
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-9, atol=0), query


def test_fts5_bm25_is_sqlites() -> None:
    rng = np.random.default_rng(3)
    vocab = ["storm", "flood", "the", "town", "market", "report", "covid", "19", "covid_19"]
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(1, 30)))) for _ in range(60)]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5 (text, tokenize = 'porter unicode61')")
    conn.executemany("INSERT INTO f (rowid, text) VALUES (?, ?)",
                     [(i + 1, t) for i, t in enumerate(texts)])
    terms = Fts5Terms()
    tokens = terms(texts)
    for query in ("storm", "the town", "storms the", "covid_19 market", "flood flooding",
                  "19 covid"):
        words = fts_words(query)
        hits = [conn.execute("SELECT COUNT(*) FROM f WHERE f MATCH ?", (fts_query(w),))
                .fetchone()[0] for w in words]
        want = dict(conn.execute("SELECT rowid, -bm25(f) FROM f WHERE f MATCH ?",
                                 (fts_query(query),)).fetchall())
        got = fts5_bm25(terms(words), hits, tokens, len(texts), sum(map(len, tokens)))
        assert {i + 1: g for i, g in enumerate(got) if g > 0} == pytest.approx(want, rel=1e-9)


def test_fts5_totals_and_phrase_counts_are_the_indexs_own(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "qa.sqlite3")
    assert store.fts_totals() == (0, 0)
    conn = sqlite3.connect(tmp_path / "qa.sqlite3")
    with conn:
        conn.executemany("INSERT INTO passages_fts (rowid, text) VALUES (?, ?)",
                         [(i, "a covid_19 case " * (i % 4) + f"word{i}") for i in range(1, 400)])
        conn.execute("DELETE FROM passages_fts WHERE rowid IN (3, 5, 7)")
    counted = (conn.execute("SELECT COUNT(*) FROM passages_fts").fetchone()[0],
               conn.execute("SELECT SUM(cnt) FROM passages_vocab").fetchone()[0])
    assert store.fts_totals() == counted == (396, 396 + 4 * sum(i % 4 for i in range(1, 400))
                                             - 4 * (3 + 1 + 3))
    assert store.phrase_passage_counts(["covid_19", "word9"]) == {
        "covid_19": sum(i % 4 > 0 for i in range(1, 400) if i not in (3, 5, 7)), "word9": 1}
    conn.close()
    store.close()


def test_filters_through_the_service(services: tuple[QAService, QAService]) -> None:
    _, milvus = services
    store = milvus.corpus.store
    storm = next(d.id for d in store.list_documents() if d.title == STORM.title)
    market = next(d.id for d in store.list_documents() if d.title == MARKET.title)
    only = milvus.ask("Which town?", top_k=20, where=PassageFilter(document_ids=[market]))
    assert only.passages and {p.document_id for p in only.passages} == {market}
    dated = milvus.ask("storm", top_k=20, where=PassageFilter(
        published_from="2024-05-01", published_to="2024-05", require_date=True))
    assert {p.document_id for p in dated.passages} == {storm}
    undated_kept = milvus.ask("storm", top_k=20, where=PassageFilter(
        published_from="2024-05-01", published_to="2024-05"))
    assert market not in {p.document_id for p in undated_kept.passages}
    assert storm in {p.document_id for p in undated_kept.passages}
    assert len({p.document_id for p in undated_kept.passages}) == 2  # the undated sample too


def test_delete_and_crash_repair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path, backend="milvus")
    service = QAService(settings)
    stored = service.add_documents([STORM])[0].document
    ids = {p.id for p in service.corpus.store.document_passages(stored.id)}
    assert service.corpus.index.ids() == ids

    # a crash after the store's commit, before the index write: the passages are only in SQLite
    def crash(*_: object) -> None:
        raise KeyboardInterrupt("killed between the store and the index")

    monkeypatch.setattr(type(service.corpus.index), "add", crash)
    with pytest.raises(KeyboardInterrupt):
        service.add_documents([MARKET])
    monkeypatch.undo()
    market = service.corpus.store.find_by_hash(content_hash(MARKET.text))
    assert market is not None
    market_ids = {p.id for p in service.corpus.store.document_passages(market.id)}
    assert not market_ids & service.corpus.index.ids()
    # and a passage the store no longer has (a crash after a delete's commit)
    dim = service.corpus.encoder.dimension
    service.corpus.index.add([IndexedPassage(10_000, "gone", None, "orphan text",
                                             np.ones(dim, np.float32) / np.sqrt(dim))])
    service.corpus.close()

    restarted = QAService(settings)
    restarted.corpus.open()
    assert restarted.corpus.index.ids() == ids | market_ids
    question = "When did the fish market in Harwick reopen?"
    assert restarted.ask(question).passages[0].document_id == market.id

    assert restarted.delete_document(market.id)
    assert restarted.corpus.index.ids() == ids
    assert market.id not in {p.document_id for p in restarted.ask(question, top_k=20).passages}
    restarted.corpus.close()


def test_migrate_index_copies_without_embedding(tmp_path: Path, sample_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = QAService(Settings(data_dir=tmp_path))
    source.add_documents([*load_paths([sample_path]).documents, STORM])
    before = source.ask("Which town was worst affected by the storm?")
    source.corpus.close()

    from embeddings.encoder import Encoder

    def no_embedding(*_: object, **__: object) -> np.ndarray:
        raise AssertionError("migrate-index embedded something")

    monkeypatch.setattr(Encoder, "encode", no_embedding)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    from qa.settings import get_settings
    get_settings.cache_clear()
    try:
        assert qa_main(["migrate-index", "--to", "milvus"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "passages in milvus FLAT" in out and "QA_BACKEND=milvus" in out
    # run again: nothing doubles
    again = migrate_index(Settings(data_dir=tmp_path), "milvus")
    monkeypatch.undo()
    store = DocumentStore(tmp_path / "qa.sqlite3")
    assert again.passages == store.passage_count()
    store.close()

    moved = QAService(Settings(data_dir=tmp_path, backend="milvus"))
    after = moved.ask("Which town was worst affected by the storm?")
    assert after.answer == before.answer
    assert after.passages[0].passage_id == before.passages[0].passage_id
    # the stored vectors themselves were copied: each finds its own passage first
    store = moved.corpus.store
    ids, vectors, _ = store.stored_vectors(moved.corpus.encoder.name)
    for pid, vector in zip(ids[:5].tolist(), vectors[:5], strict=True):
        top = moved.corpus.index.dense_search(vector, 1)
        assert top[0][0] == pid and top[0][1] == pytest.approx(1.0, abs=1e-5)
    moved.corpus.close()


def test_backend_bench_smoke(tmp_path: Path) -> None:
    import json

    from eval.backend_bench import format_backend_rows, run_backend_bench, squad_sentences

    paragraphs = [{"context": f"The council met on day {i}. Ferries ran late again. Storms hit "
                              f"the coast.", "qas": [{"question": f"When did storm {i} hit?"}]}
                  for i in range(10)]
    train, dev = tmp_path / "train-v1.1.json", tmp_path / "dev-v1.1.json"
    for path in (train, dev):
        path.write_text(json.dumps({"data": [{"title": "x", "paragraphs": paragraphs}]}))
    assert len(squad_sentences([train, dev])) == 60
    rows = run_backend_bench(Settings(data_dir=tmp_path), [train, dev], [90], ["faiss", "milvus"],
                             searches=5)
    assert [(r["backend"], r["passages"]) for r in rows] == [("faiss", 90), ("milvus", 90)]
    assert all(r["index_passages_per_s"] > 0 and r["lexical_ms"]["p50"] > 0 for r in rows)
    assert format_backend_rows(rows).count("\n") == 3


def test_terms_without_fts5_weight_are_left_out(tmp_path: Path) -> None:
    """A term in half the passages or more weighs nothing in FTS5's BM25, so it does not rank
    passages on Milvus either; counts come from the store (here: counted from the texts)."""
    texts = [("the " * (i % 3 + 1) + f"report {i}" if i < 30 else f"note {i}")
             + (" storms" if i % 5 == 0 else "") for i in range(40)]
    rows = [replace(r, text=t) for r, t in zip(passages(40), texts, strict=True)]
    terms = Fts5Terms()(texts)
    counts = {t: sum(t in ts for ts in terms) for t in ("the", "storm")}
    assert counts == {"the": 30, "storm": 8}
    weighed = MilvusIndex(str(tmp_path / "a.db"), None, "passages", 8,
                          term_counts=lambda ts: {t: counts[t] for t in ts if t in counts})
    plain = MilvusIndex(str(tmp_path / "b.db"), None, "passages", 8)
    for index in (weighed, plain):
        index.add(rows)
    with_storm = {r.id for r in rows if "storm" in r.text}
    assert {i for i, _ in weighed.lexical_search("the storms", 40)} == with_storm
    assert {i for i, _ in plain.lexical_search("the storms", 40)} > with_storm
    # every term that common: all kept, rather than nothing found
    assert len(weighed.lexical_search("the", 40)) == 30
    weighed.close()
    plain.close()
