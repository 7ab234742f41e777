"""The storage package: named migrations (and the upgrade of databases made when migrations
were numbered), the transaction helper and the "ids" helper. SQLite only, no models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from embeddings.splitter import PassageSpan, TextSpan
from qa.storage.conversations import ConversationStore
from qa.storage.db import Database, among, connect, values
from qa.storage.documents import DocumentStore
from qa.storage.migrations import CONVERSATIONS, DOCUMENTS, Migration, applied, migrate

TEXT = "Alpha met Beta in Doha. Gamma reported the meeting."


def _names(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT namespace, name FROM applied_migrations ORDER BY namespace, rowid")]
    finally:
        conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def test_a_new_database_records_every_migration_by_name_once(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    DocumentStore(path).close()
    ConversationStore(path, 1).close()
    expected = ([("conversations", m.name) for m in CONVERSATIONS]
                + [("store", m.name) for m in DOCUMENTS])
    assert _names(path) == expected
    assert "schema_migrations" not in _tables(path)
    conn = connect(path)
    assert migrate(conn, "store", DOCUMENTS) == []  # nothing runs twice
    assert migrate(conn, "conversations", CONVERSATIONS) == []
    conn.close()


def test_a_trigger_with_semicolons_in_its_body_is_one_statement(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "qa.sqlite3")
    before = store.version()
    _add(store)
    assert store.version() == before + 1  # passages_added fired once, for the one passage
    store.close()


def test_which_names_each_document_holds(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "qa.sqlite3")
    doc = _add(store)  # title "Talks", text TEXT
    names = ["talks", "alpha", "beta in doha", "doh", "gamma met", "zz"]
    # the title, a word and words in a row of the text; not part of a word, not out of order
    assert store.documents_naming([doc, "missing"], names) == {
        doc: frozenset({"talks", "alpha", "beta in doha"})}
    assert store.documents_naming([doc], []) == {}
    text = "Ömer Çelik met the press."  # FTS5 folds case and accents beyond ASCII
    other, _ = store.add_document(
        title="Ankara", text=text, url=None, published=None,
        passages=[PassageSpan(0, 0, len(text), (TextSpan(0, len(text)),))],
        vectors=np.ones((1, 4), np.float32), input_hashes=["h2"], model="m")
    assert store.documents_naming([other.id], ["ömer çelik", "omer celik", "ankara"]) == {
        other.id: frozenset({"ömer çelik", "omer celik", "ankara"})}
    store.close()


def _add(store: DocumentStore) -> str:
    record, _ = store.add_document(
        title="Talks", text=TEXT, url=None, published="2024-05-01",
        passages=[PassageSpan(0, 0, len(TEXT), (TextSpan(0, 23), TextSpan(24, len(TEXT))))],
        vectors=np.ones((1, 4), np.float32), input_hashes=["h"], model="m")
    return record.id


# -- databases made when migrations were numbered ----------------------------------------------

def _numbered_database(path: Path, store_version: int, conversations_version: int) -> None:
    """A database as the code before named migrations left it: the bookkeeping table it
    created on connecting, the first `store_version` and `conversations_version` migrations
    applied and recorded by number, and rows written through that schema."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " namespace TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, version))")
    for namespace, migrations, version in (("store", DOCUMENTS, store_version),
                                           ("conversations", CONVERSATIONS,
                                            conversations_version)):
        for number, migration in enumerate(migrations[:version], start=1):
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (namespace, number))
    conn.execute("INSERT INTO documents (id, title, url, published, text, content_hash,"
                 " created_at) VALUES ('d1', 'Talks', NULL, '2024-05-01', ?, 'x', '2024-05-01')",
                 (TEXT,))
    conn.execute('INSERT INTO passages (id, document_id, ordinal, start, "end", sentences,'
                 " text_hash, embedding, embedding_model) VALUES (1, 'd1', 0, 0, ?, ?, 'h', ?,"
                 " 'm')", (len(TEXT), f"[[0, 23], [24, {len(TEXT)}]]",
                           np.ones(4, np.float32).tobytes()))
    conn.execute("INSERT INTO passages_fts (rowid, text) VALUES (1, ?)", (TEXT,))
    conn.execute("INSERT INTO conversations VALUES ('c1', '2024-05-01T00:00:00.000000Z',"
                 " '2999-01-01T00:00:00.000000Z')")
    conn.execute("INSERT INTO turns (conversation_id, turn, question, standalone_question,"
                 " answer, citations, created_at) VALUES ('c1', 1, 'who met?', 'who met?',"
                 " 'Beta', '[]', '2024-05-01T00:00:00.000000Z')")
    conn.close()


@pytest.mark.parametrize("store_version, conversations_version", [(7, 2), (4, 1)])
def test_a_numbered_database_opens_and_upgrades_keeping_its_data(
        tmp_path: Path, store_version: int, conversations_version: int) -> None:
    path = tmp_path / "qa.sqlite3"
    _numbered_database(path, store_version, conversations_version)

    store = DocumentStore(path)
    # the store's numbers became names; the conversations' wait for their own store
    assert _names(path) == [("store", m.name) for m in DOCUMENTS]
    assert "schema_migrations" in _tables(path)
    document = store.get_document("d1")
    assert document is not None and document.text == TEXT and document.passage_count == 1
    assert document.current and document.pages is None  # columns added by the upgrade
    [passage] = store.document_passages("d1")
    assert passage.block == "body" and passage.text == TEXT
    assert store.lexical_search("Doha", 5)[0][0] == 1
    assert store.embedded_passage_ids("m") == {1}
    assert store.term_passage_counts(["doha", "gamma", "absent"]) == {"doha": 1, "gamma": 1}

    conversations = ConversationStore(path, 1)
    conversation = conversations.get("c1")
    assert conversation is not None and [t.answer for t in conversation.turns] == ["Beta"]
    conversations.set_analysis("c1", 1, {"kept": True})  # the column the upgrade may add
    assert conversations.history("c1", 5)[0].analysis == {"kept": True}
    assert applied(store._db.conn, "conversations") == {m.name for m in CONVERSATIONS}
    assert "schema_migrations" not in _tables(path)  # empty once both namespaces moved

    store.close()
    conversations.close()
    again = DocumentStore(path)  # and it opens again as a named database
    assert again.get_document("d1") is not None
    again.close()


def test_an_adopted_namespace_opens_without_the_write_lock(tmp_path: Path) -> None:
    """Once the store's numbers are names, opening it takes no write lock, even while the
    conversations' numbers still wait in the old table (a writer elsewhere must not block it)."""
    path = tmp_path / "qa.sqlite3"
    _numbered_database(path, 7, 2)
    DocumentStore(path).close()  # adopts the store's numbers; the conversations' stay
    assert "schema_migrations" in _tables(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-write
    try:
        store = DocumentStore(path)  # raised "database is locked" after the busy timeout
        assert store.get_document("d1") is not None
        store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_numbers_a_newer_program_recorded_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    _numbered_database(path, 7, 2)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES ('store', 8)")
    conn.commit()
    conn.close()
    DocumentStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM schema_migrations").fetchall() == [
        ("conversations", 1), ("conversations", 2), ("store", 8)]
    conn.close()


def test_a_failing_migration_rolls_back_and_is_not_recorded(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.sqlite3")
    broken = [Migration("one", ("CREATE TABLE a (x INTEGER)",)),
              Migration("two", ("CREATE TABLE b (x INTEGER)", "INSERT INTO nowhere VALUES (1)"))]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, "test", broken)
    assert applied(conn, "test") == {"one"}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "a" in tables and "b" not in tables
    fixed = [broken[0], Migration("two", ("CREATE TABLE b (x INTEGER)",))]
    assert migrate(conn, "test", fixed) == ["two"]
    with pytest.raises(ValueError, match="repeat"):
        migrate(conn, "test", [broken[0], broken[0]])
    conn.close()


# -- the helpers ---------------------------------------------------------------------------------

def test_transaction_commits_or_rolls_back_everything(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    db.execute("CREATE TABLE t (x INTEGER)")
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (3)")
        raise RuntimeError("crash between two writes")
    assert [r[0] for r in db.query("SELECT x FROM t ORDER BY x")] == [1, 2]
    assert not db.conn.in_transaction
    db.close()


def test_among_binds_any_number_of_values_as_one_parameter(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3")
    db.execute("CREATE TABLE t (x INTEGER)")
    with db.transaction() as conn:
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50_000)])
    wanted = list(range(0, 100_000, 2))  # more values than SQLite allows bound variables
    found = db.query("SELECT COUNT(*) FROM t WHERE " + among("x"), [values(wanted)])
    assert found[0][0] == 25_000
    assert db.query("SELECT x FROM t WHERE " + among("x"), [values([])]) == []
    db.close()


# -- who imports what ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _importers(module: str) -> set[str]:
    """The repository's Python files (outside tests) importing `module` or a module under it."""
    import ast

    found = set()
    for path in ROOT.glob("[!.]*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("tests/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom)
                     and not node.level else [])
            if any(n == module or n.startswith(module + ".") for n in names):
                found.add(rel)
    return found


def test_storage_engines_are_imported_in_one_place_each() -> None:
    assert _importers("faiss") == {"embeddings/faiss_index.py"}
    assert _importers("pymilvus") == {"qa/storage/backends/milvus.py"}
    assert not any(p.startswith("embeddings/") for p in _importers("qa"))
