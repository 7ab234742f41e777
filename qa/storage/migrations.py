"""The schema of the service's SQLite database, as named migrations, and the runner that applies
them.

Each store has a namespace ("store": documents, passages and their vectors; "conversations")
and an ordered list of migrations. A migration is a name and a list of SQL statements, run one
by one in one transaction and recorded by name in `applied_migrations`; a migration already
recorded is never run again. Statements are kept apart rather than split out of one script: a
trigger's body holds semicolons of its own.

Databases made before migrations had names recorded numbers instead (`schema_migrations`:
version i of a namespace was its i-th migration). Opening one records those migrations by name
and drops the old table once no namespace is left in it; nothing else changes.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from qa.storage.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


# The order is the order of application; the first seven are the numbered versions 1-7 of
# databases made before names (so they keep their places).
DOCUMENTS: list[Migration] = [
    Migration("documents-passages-lexical-index", (
        """CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            url TEXT,
            published TEXT,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            sentences TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            embedding BLOB,
            embedding_model TEXT
        )""",
        "CREATE INDEX passages_document ON passages (document_id, ordinal)",
        "CREATE INDEX passages_text_hash ON passages (text_hash)",
        "CREATE INDEX documents_published ON documents (published)",
        "CREATE VIRTUAL TABLE passages_fts USING fts5 (text, tokenize = 'porter unicode61')",
    )),
    # one vector per sentence of a document (the sentence re-scorer); a sentence shared by two
    # overlapping passages is stored once
    Migration("sentence-vectors", (
        """CREATE TABLE sentence_vectors (
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            model TEXT NOT NULL,
            input_hash TEXT NOT NULL,
            embedding BLOB NOT NULL,
            PRIMARY KEY (document_id, start, model)
        )""",
        "CREATE INDEX sentence_vectors_input_hash ON sentence_vectors (input_hash)",
    )),
    # per-term passage counts of the lexical index (the learned re-scorer's IDF)
    Migration("lexical-vocabulary", (
        "CREATE VIRTUAL TABLE passages_vocab USING fts5vocab (passages_fts, 'row')",
    )),
    # a counter every change of passages or their vectors moves, by any process, so a running
    # service sees another process's writes (Corpus.refresh)
    Migration("corpus-version", (
        "CREATE TABLE corpus_version (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " version INTEGER NOT NULL)",
        "INSERT INTO corpus_version (id, version) VALUES (1, 0)",
        """CREATE TRIGGER passages_added AFTER INSERT ON passages BEGIN
            UPDATE corpus_version SET version = version + 1;
        END""",
        """CREATE TRIGGER passages_removed AFTER DELETE ON passages BEGIN
            UPDATE corpus_version SET version = version + 1;
        END""",
        """CREATE TRIGGER passages_embedded AFTER UPDATE OF embedding ON passages BEGIN
            UPDATE corpus_version SET version = version + 1;
        END""",
    )),
    # versions of a story: documents sharing a story key (URL, file path or a caller's key) are
    # versions; a newer one supersedes the older (kept, citable on request)
    Migration("story-versions", (
        "ALTER TABLE documents ADD COLUMN story_key TEXT",
        "ALTER TABLE documents ADD COLUMN superseded_by TEXT",
        "ALTER TABLE documents ADD COLUMN superseded_at TEXT",
        "CREATE INDEX documents_story ON documents (story_key)",
        "CREATE INDEX documents_superseded ON documents (superseded_by)",
        "UPDATE corpus_version SET version = version + 1",
    )),
    # a paged source's (a PDF's) page ranges: JSON [[start, end], ...] into the text
    Migration("document-pages", (
        "ALTER TABLE documents ADD COLUMN pages TEXT",
    )),
    # an article's structure: its lines typed (JSON [[start, end, kind, copy_of], ...]), the
    # dates its text names, resolved (JSON [[start, end, value, first day, last day], ...]),
    # and what kind of text each passage is ("body", "head" or "caption"; passages stored
    # before are body); and near-duplicates (the same wire copy elsewhere): a MinHash
    # signature, its bands for lookup, and the group's first document
    Migration("article-structure-and-duplicates", (
        "ALTER TABLE documents ADD COLUMN blocks TEXT",
        "ALTER TABLE documents ADD COLUMN dates TEXT",
        "ALTER TABLE documents ADD COLUMN minhash BLOB",
        "ALTER TABLE documents ADD COLUMN shingle_count INTEGER",
        "ALTER TABLE documents ADD COLUMN duplicate_of TEXT",
        "CREATE INDEX documents_duplicate_of ON documents (duplicate_of)",
        """CREATE TABLE document_bands (
            band TEXT NOT NULL,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE
        )""",
        "CREATE INDEX document_bands_band ON document_bands (band)",
        "CREATE INDEX document_bands_document ON document_bands (document_id)",
        "ALTER TABLE passages ADD COLUMN block TEXT NOT NULL DEFAULT 'body'",
    )),
]

# The first two are the numbered versions 1-2 of databases made before names.
CONVERSATIONS: list[Migration] = [
    Migration("conversations-and-turns", (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX conversations_updated ON conversations (updated_at)",
        """CREATE TABLE turns (
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,
            question TEXT NOT NULL,
            standalone_question TEXT NOT NULL,
            answer TEXT,
            citations TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (conversation_id, turn)
        )""",
    )),
    # each turn keeps the follow-up resolver's analysis of it (qa/followup/analysis.py)
    Migration("turn-analysis", (
        "ALTER TABLE turns ADD COLUMN analysis TEXT",
    )),
]

_LEGACY = "schema_migrations"  # numbered versions, before migrations had names


def migrate(conn: sqlite3.Connection, namespace: str, migrations: list[Migration]) -> list[str]:
    """Apply the migrations of `namespace` not applied yet, in order, each in its own
    transaction; returns the names applied now. Safe against another process opening the
    same database at once: each migration is checked again under the write lock."""
    if len({m.name for m in migrations}) != len(migrations):
        raise ValueError(f"migration names of {namespace!r} repeat")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS applied_migrations (namespace TEXT NOT NULL,"
        " name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (namespace, name))")
    _adopt_numbered(conn, namespace, migrations)
    done = applied(conn, namespace)
    ran: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        with transaction(conn):
            if migration.name in applied(conn, namespace):  # another process was first
                continue
            for statement in migration.statements:
                conn.execute(statement)
            _record(conn, namespace, migration.name)
        log.info("applied migration %s/%s", namespace, migration.name)
        ran.append(migration.name)
    return ran


def applied(conn: sqlite3.Connection, namespace: str) -> set[str]:
    """The names of `namespace`'s migrations recorded as applied."""
    return {row[0] for row in conn.execute(
        "SELECT name FROM applied_migrations WHERE namespace = ?", (namespace,))}


def _record(conn: sqlite3.Connection, namespace: str, name: str) -> None:
    conn.execute("INSERT OR IGNORE INTO applied_migrations (namespace, name, applied_at)"
                 " VALUES (?, ?, ?)",
                 (namespace, name, datetime.now(UTC).isoformat(timespec="seconds")))


def _has_legacy_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (_LEGACY,)).fetchone() is not None


def _adopt_numbered(conn: sqlite3.Connection, namespace: str,
                    migrations: list[Migration]) -> None:
    """Record by name the migrations a database made before names holds as numbers (version
    i: the i-th migration), and drop the numbered table once it is empty. Numbers past the
    list (a newer program's) are left where they are."""
    if not _has_legacy_table(conn) or conn.execute(
            f"SELECT 1 FROM {_LEGACY} WHERE namespace = ? LIMIT 1", (namespace,)).fetchone() is None:
        return  # nothing of this namespace to adopt: no write lock taken on an ordinary open
    with transaction(conn):
        if not _has_legacy_table(conn):  # another process adopted and dropped it meanwhile
            return
        versions = [row[0] for row in conn.execute(
            f"SELECT version FROM {_LEGACY} WHERE namespace = ?", (namespace,))]
        for version in versions:
            if 1 <= version <= len(migrations):
                _record(conn, namespace, migrations[version - 1].name)
                conn.execute(f"DELETE FROM {_LEGACY} WHERE namespace = ? AND version = ?",
                             (namespace, version))
        if conn.execute(f"SELECT 1 FROM {_LEGACY} LIMIT 1").fetchone() is None:
            conn.execute(f"DROP TABLE {_LEGACY}")
    if versions:
        log.info("recorded %d numbered migrations of %s by name", len(versions), namespace)
