"""The SQLite store on its own: lexical search over titles and passage text, and the migration
that added the title column to an existing store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from embeddings.splitter import PassageSplitter
from embeddings.store import MIGRATIONS, DocumentStore, content_hash


def add(store: DocumentStore, title: str, text: str) -> list[int]:
    spans = PassageSplitter(1, 0, 1000).split(text)
    vectors = np.zeros((len(spans), 4), dtype=np.float32)
    hashes = [content_hash(text[s.start : s.end]) for s in spans]
    _, ids = store.add_document(title=title, text=text, url=None, published=None,
                                passages=spans, vectors=vectors, input_hashes=hashes, model="m")
    return ids


def test_title_matches_count_only_with_a_title_weight(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "s.sqlite3")
    try:
        bridge = add(store, "Tobbin glass bridge", "It was built in 1820. It is long.")
        other = add(store, "Rivers", "The glass works of Vell made bowls. Bridges need stone.")
        # text only: "Tobbin" is nowhere in a passage text, so only "glass"/"built" match
        text_only = [pid for pid, _ in store.lexical_search("When was Tobbin built?", 10)]
        assert text_only == [bridge[0]]
        with_title = [pid for pid, _ in store.lexical_search("Tobbin glass", 10,
                                                             title_weight=1.0)]
        assert set(with_title[:2]) == set(bridge)  # both sentences of the titled document
        assert with_title[2:] == [other[0]]
        assert [pid for pid, _ in store.lexical_search("Tobbin", 10)] == []
    finally:
        store.close()


def test_migration_indexes_titles_of_existing_passages(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    # a store as version 1 left it: text-only FTS rows
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("CREATE TABLE schema_migrations (namespace TEXT NOT NULL, version INTEGER NOT "
                 "NULL, PRIMARY KEY (namespace, version))")
    conn.execute("INSERT INTO schema_migrations VALUES ('store', 1)")
    text = "Café owners met in Zorbland. Nobody came."
    conn.execute("INSERT INTO documents VALUES ('d1', 'Zorbland café summit', NULL, NULL, ?, 'h',"
                 " 'now')", (text,))
    conn.execute("INSERT INTO passages (id, document_id, ordinal, start, \"end\", sentences, "
                 "text_hash) VALUES (7, 'd1', 1, 29, ?, '[]', 'x')", (len(text),))
    conn.execute("INSERT INTO passages_fts (rowid, text) VALUES (7, 'Nobody came.')")
    conn.commit()
    conn.close()
    store = DocumentStore(path)
    try:
        assert [pid for pid, _ in store.lexical_search("summit", 5, title_weight=1.0)] == [7]
        # the passage text was rebuilt from the document at its offsets (non-ASCII before it)
        assert [pid for pid, _ in store.lexical_search("nobody", 5)] == [7]
        assert store.lexical_search("owners", 5) == []
    finally:
        store.close()
