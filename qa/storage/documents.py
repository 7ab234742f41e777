"""The document store: documents, passages (with character offsets and sentence spans) and
their vectors in SQLite, plus an FTS5 (BM25) index of passage text kept in the same
transactions. Its schema is the "store" namespace of qa/storage/migrations.py."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.splitter import PassageSpan, TextSpan
from qa.storage.db import Database, among, values
from qa.storage.migrations import DOCUMENTS, migrate
from qa.text import fold


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(text: str) -> str:
    """A document's id: its text's hash, so the same text is always the same document."""
    return content_hash(text)[:16]


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    title: str
    url: str | None
    published: str | None
    text: str
    content_hash: str
    created_at: str
    passage_count: int
    story_key: str | None = None
    superseded_by: str | None = None  # the id of the version that replaced this one
    superseded_at: str | None = None
    pages: tuple[tuple[int, int], ...] | None = None  # each page's (start, end) in `text`
    # each line's (start, end, kind, start of the line it repeats or None), when typed
    blocks: tuple[tuple[int, int, str, int | None], ...] | None = None
    dates: tuple[DateSpan, ...] | None = None  # the dates the text names, when resolved
    duplicate_of: str | None = None  # the first document of its group of near-duplicates

    @property
    def current(self) -> bool:
        return self.superseded_by is None


def page_of(pages: tuple[tuple[int, int], ...] | None, offset: int) -> int | None:
    """The page (from 1) of `pages` whose range holds `offset` (a page separator counts with
    the page after it); None without pages."""
    if not pages:
        return None
    for number, (_, end) in enumerate(pages, start=1):
        if offset < end:
            return number
    return len(pages)


# (start, end, value, first day, last day): words of a text naming a day, month or year
# (value) or a range of days, resolved against the publication date (qa.dates)
DateSpan = tuple[int, int, str | None, str | None, str | None]


@dataclass(frozen=True)
class Fingerprint:
    """A document's near-duplicate fingerprint, as stored: its MinHash values (bytes), its
    shingle count and its band keys (qa.duplicates)."""

    values: bytes
    shingles: int
    bands: tuple[str, ...]


@dataclass(frozen=True)
class Fingerprinted:
    id: str
    story_key: str | None
    duplicate_of: str | None
    fingerprint: Fingerprint


@dataclass(frozen=True)
class DocumentLayout:
    """Where a document's pages are, what its lines are and which dates it names (each may be
    unknown)."""

    pages: tuple[tuple[int, int], ...] | None
    blocks: tuple[tuple[int, int, str, int | None], ...] | None
    dates: tuple[DateSpan, ...] | None = None

    def block_at(self, offset: int) -> str | None:
        """The kind of the line holding `offset` (None when lines were not typed)."""
        for start, end, kind, _ in self.blocks or ():
            if start <= offset < end:
                return kind
        return None


@dataclass(frozen=True)
class PassageRecord:
    id: int
    document_id: str
    title: str
    published: str | None
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[TextSpan, ...]
    block: str = "body"  # what kind of text it is: "body", "head" or "caption"


@dataclass(frozen=True)
class SentenceVectors:
    """The vectors of a document's distinct sentences, by start offset; `input_hashes` identify
    what was embedded, so identical input is never embedded twice."""

    starts: list[int]
    input_hashes: list[str]
    vectors: np.ndarray


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """An FTS5 query matching any word of `text` (quoted, so user input is never syntax).
    FTS5's tokenizer normalises query and passages alike; qa.text.fold is not applied first:
    it folds what the tokenizer keeps ("Straße" -> "strasse", ligatures, Greek accents), so
    such words would stop matching their stored terms."""
    return " OR ".join(f'"{w}"' for w in fts_words(text))


def fts_words(text: str) -> list[str]:
    """The distinct words of `text` (lower-cased) that `fts_query` matches, each one a phrase
    of FTS5's query."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's variable-length integer at `at` (big-endian 7-bit groups, a ninth byte of 8
    bits) and where the next one starts."""
    value = 0
    for _ in range(8):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at
    return (value << 8) | data[at], at + 1


class DocumentStore:
    """Documents and passages in SQLite. All access is serialized by one lock."""

    def __init__(self, path: Path):
        self.path = path
        self._db = Database(path)
        migrate(self._db.conn, "store", DOCUMENTS)

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.transaction()

    def _query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        return self._db.query(sql, params)

    # documents -------------------------------------------------------------------------------
    _DOC_SQL = (
        "SELECT d.*, (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id) AS passage_count"
        " FROM documents d"
    )

    def get_document(self, document_id: str) -> DocumentRecord | None:
        rows = self._query(self._DOC_SQL + " WHERE d.id = ?", (document_id,))
        return _document(rows[0]) if rows else None

    def find_by_hash(self, digest: str) -> DocumentRecord | None:
        rows = self._query(self._DOC_SQL + " WHERE d.content_hash = ?", (digest,))
        return _document(rows[0]) if rows else None

    def band_candidates(self, bands: list[str]) -> list[Fingerprinted]:
        """The stored documents sharing at least one MinHash band with `bands`."""
        rows = self._query(
            "SELECT id, story_key, duplicate_of, minhash, shingle_count FROM documents WHERE id IN"
            " (SELECT document_id FROM document_bands WHERE " + among("band") + ")"
            " ORDER BY created_at, rowid", [values(bands)])
        return [Fingerprinted(r[0], r[1], r[2], Fingerprint(r[3], int(r[4]), ()))
                for r in rows if r[3] is not None]

    def duplicates(self, document_id: str) -> list[DocumentRecord]:
        """The other documents of `document_id`'s group of near-duplicates, oldest first."""
        rows = self._query("SELECT COALESCE(duplicate_of, id) FROM documents WHERE id = ?",
                           (document_id,))
        if not rows:
            return []
        group = rows[0][0]
        return [_document(r) for r in self._query(
            self._DOC_SQL + " WHERE (d.id = ? OR d.duplicate_of = ?) AND d.id != ?"
            " ORDER BY d.created_at, d.rowid", (group, group, document_id))]

    def find_by_url(self, url: str) -> DocumentRecord | None:
        """The newest document with this URL (whatever its story key)."""
        rows = self._query(self._DOC_SQL + " WHERE d.url = ? ORDER BY d.created_at DESC,"
                           " d.rowid DESC LIMIT 1", (url,))
        return _document(rows[0]) if rows else None

    def list_documents(self) -> list[DocumentRecord]:
        return [_document(r) for r in self._query(self._DOC_SQL + " ORDER BY d.created_at, d.id")]

    def versions(self, story_key: str) -> list[DocumentRecord]:
        """Every version of a story, oldest first."""
        return [_document(r) for r in self._query(
            self._DOC_SQL + " WHERE d.story_key = ? ORDER BY d.created_at, d.rowid", (story_key,))]

    def current_version(self, story_key: str) -> DocumentRecord | None:
        rows = self._query(self._DOC_SQL + " WHERE d.story_key = ? AND d.superseded_by IS NULL",
                           (story_key,))
        return _document(rows[0]) if rows else None

    def document_heads(self, ids: list[str], chars: int) -> dict[str, tuple[bool, str]]:
        """For each of `ids` that exists: whether it is superseded, and its first `chars`
        characters (where a correction notice stands)."""
        rows = self._query("SELECT id, superseded_by IS NOT NULL, substr(text, 1, ?) FROM"
                           " documents WHERE " + among("id"), [chars, values(ids)])
        return {r[0]: (bool(r[1]), r[2]) for r in rows}

    def documents_naming(self, ids: list[str], names: list[str]) -> dict[str, frozenset[str]]:
        """For each of `ids` that exists, which of `names` its title or indexed text holds,
        as whole words in a row (FTS5's tokens for the text: case and accents aside; "rome"
        is not in "chromosome")."""
        if not names:
            return {}
        held: dict[str, set[str]] = {}
        for doc, title in self._query("SELECT id, title FROM documents WHERE " + among("id"),
                                      [values(ids)]):
            titled = f" {' '.join(_WORD.findall(fold(title or '')))} "
            held[doc] = {n for n in names if f" {' '.join(_WORD.findall(fold(n)))} " in titled}
        for name in names:
            words = _WORD.findall(name.lower())
            if not words:
                continue
            rows = self._query(
                "SELECT DISTINCT p.document_id FROM passages_fts f JOIN passages p"
                " ON p.id = f.rowid WHERE passages_fts MATCH ? AND " + among("p.document_id"),
                ['"' + " ".join(words) + '"', values(ids)])
            for r in rows:
                held[r[0]].add(name)
        return {doc: frozenset(found) for doc, found in held.items()}

    def superseded_passage_ids(self) -> set[int]:
        """Passages of documents a newer version replaced (kept out of answers by default)."""
        return {r[0] for r in self._query(
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id"
            " WHERE d.superseded_by IS NOT NULL")}

    def is_empty(self) -> bool:
        return not self._query("SELECT 1 FROM documents LIMIT 1")

    def document_layout(self, ids: list[str]) -> dict[str, DocumentLayout]:
        """The page ranges and typed lines of those of `ids` that have either."""
        rows = self._query("SELECT id, pages, blocks, dates FROM documents WHERE (pages IS NOT"
                           " NULL OR blocks IS NOT NULL OR dates IS NOT NULL) AND "
                           + among("id"), [values(ids)])
        return {r[0]: DocumentLayout(_pages(r[1]), _blocks(r[2]), _dates(r[3])) for r in rows}

    def document_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM documents")]

    def add_document(
        self,
        *,
        title: str,
        text: str,
        url: str | None,
        published: str | None,
        passages: list[PassageSpan],
        vectors: np.ndarray,
        input_hashes: list[str],
        model: str,
        sentences: SentenceVectors | None = None,
        story_key: str | None = None,
        pages: tuple[tuple[int, int], ...] | None = None,
        blocks: list[tuple[int, int, str, int | None]] | None = None,
        dates: list[DateSpan] | None = None,
        fingerprint: Fingerprint | None = None,
        duplicate_of: str | None = None,
    ) -> tuple[DocumentRecord, list[int]]:
        """Insert a document with its passages and vectors (and its sentence vectors, when
        given) in one transaction. `input_hashes` identify what was embedded, so identical
        input is never embedded twice. With a `story_key`, the document becomes the current
        version of that story: the version it replaces is marked superseded by it."""
        digest = content_hash(text)
        doc_id = document_id(text)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        ids: list[int] = []
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO documents (id, title, url, published, text, content_hash, created_at,"
                " story_key, pages, blocks, dates, minhash, shingle_count, duplicate_of)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (doc_id, title, url, published, text, digest, now, story_key,
                 *(json.dumps(x) if x is not None else None for x in (pages, blocks, dates)),
                 fingerprint.values if fingerprint else None,
                 fingerprint.shingles if fingerprint else None, duplicate_of),
            )
            if fingerprint is not None:
                conn.executemany("INSERT INTO document_bands (band, document_id) VALUES (?, ?)",
                                 [(band, doc_id) for band in fingerprint.bands])
            if story_key is not None:
                conn.execute(
                    "UPDATE documents SET superseded_by = ?, superseded_at = ? WHERE story_key = ?"
                    " AND superseded_by IS NULL AND id != ?", (doc_id, now, story_key, doc_id))
            for span, vector, input_hash in zip(passages, vectors, input_hashes, strict=True):
                passage_text = text[span.start : span.end]
                cur = conn.execute(
                    'INSERT INTO passages (document_id, ordinal, start, "end", sentences,'
                    " text_hash, embedding, embedding_model, block) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?)",
                    (
                        doc_id,
                        span.ordinal,
                        span.start,
                        span.end,
                        json.dumps([[s.start, s.end] for s in span.sentences]),
                        input_hash,
                        np.asarray(vector, dtype=np.float32).tobytes(),
                        model,
                        span.label,
                    ),
                )
                pid = int(cur.lastrowid or 0)
                ids.append(pid)
                conn.execute(
                    "INSERT INTO passages_fts (rowid, text) VALUES (?, ?)", (pid, passage_text)
                )
            if sentences is not None:
                _insert_sentence_vectors(conn, doc_id, sentences, model)
        record = self.get_document(doc_id)
        assert record is not None
        return record, ids

    def delete_document(self, document_id: str) -> list[int] | None:
        """Delete a document; returns its passage ids, or None when it does not exist."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
                return None
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM passages WHERE document_id = ?", (document_id,))]
            conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
            conn.execute("DELETE FROM passages WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM sentence_vectors WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM document_bands WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            # its near-duplicates' group gets a new first document: the earliest left
            members = [r[0] for r in conn.execute(
                "SELECT id FROM documents WHERE duplicate_of = ? ORDER BY created_at, rowid",
                (document_id,))]
            if members:
                conn.execute("UPDATE documents SET duplicate_of = NULL WHERE id = ?", (members[0],))
                conn.execute("UPDATE documents SET duplicate_of = ? WHERE duplicate_of = ?",
                             (members[0], document_id))
            # the version it had replaced is the story's current one again
            conn.execute("UPDATE documents SET superseded_by = NULL, superseded_at = NULL"
                         " WHERE superseded_by = ?", (document_id,))
        return ids

    def make_current(self, document_id: str) -> None:
        """Make a stored version its story's current one again (the same text ingested anew
        after an edit was reverted); the version that was current is superseded by it."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.transaction() as conn:
            row = conn.execute("SELECT story_key FROM documents WHERE id = ?",
                               (document_id,)).fetchone()
            if row is None or row[0] is None:
                return
            conn.execute("UPDATE documents SET superseded_by = ?, superseded_at = ? WHERE"
                         " story_key = ? AND superseded_by IS NULL AND id != ?",
                         (document_id, now, row[0], document_id))
            conn.execute("UPDATE documents SET superseded_by = NULL, superseded_at = NULL"
                         " WHERE id = ?", (document_id,))
            conn.execute("UPDATE corpus_version SET version = version + 1")

    # passages --------------------------------------------------------------------------------
    _PASSAGE_SQL = (
        'SELECT p.id, p.document_id, d.title, d.published, p.ordinal, p.start, p."end",'
        " substr(d.text, p.start + 1, p.\"end\" - p.start) AS text, p.sentences, p.block"
        " FROM passages p JOIN documents d ON d.id = p.document_id"
    )

    def passages(self, ids: list[int]) -> dict[int, PassageRecord]:
        """Passages by id (ids that no longer exist are absent)."""
        rows = self._query(self._PASSAGE_SQL + " WHERE " + among("p.id"), [values(ids)])
        return {row["id"]: _passage(row) for row in rows}

    def document_passages(self, document_id: str) -> list[PassageRecord]:
        rows = self._query(self._PASSAGE_SQL + " WHERE p.document_id = ? ORDER BY p.ordinal",
                           (document_id,))
        return [_passage(r) for r in rows]

    def version(self) -> int:
        """The corpus version: moves on every change of passages or their vectors, by any
        process."""
        return int(self._query("SELECT version FROM corpus_version")[0][0])

    def vectors(self, ids: list[int], model: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of `ids` embedded with `model`."""
        rows = self._query("SELECT id, embedding FROM passages WHERE " + among("id")
                           + " AND embedding_model = ? AND embedding IS NOT NULL ORDER BY id",
                           [values(ids), model])
        found = np.asarray([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return found, np.zeros((0, 0), dtype=np.float32)
        return found, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def embedded_passage_ids(self, model: str) -> set[int]:
        return {r[0] for r in self._query(
            "SELECT id FROM passages WHERE embedding_model = ? AND embedding IS NOT NULL", (model,))}

    def passage_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM passages")[0][0])

    def fts_totals(self) -> tuple[int, int]:
        """(passages, tokens) in the FTS5 index, as its bm25() reads them: the row count and,
        over it, the average passage length. From FTS5's own totals record (its "averages":
        varints, rows then tokens), one row read; FTS5 writes it with the first passage, so
        without it the index is empty."""
        found = self._query("SELECT block FROM passages_fts_data WHERE id = 1")
        if not found or not found[0][0]:
            return 0, 0
        rows, at = _varint(found[0][0], 0)
        tokens, _ = _varint(found[0][0], at)
        return rows, tokens

    def phrase_passage_counts(self, words: list[str]) -> dict[str, int]:
        """How many passages hold each word as FTS5 matches it (`fts_query`): for a word its
        tokenizer makes several terms of ("covid_19"), the passages holding them in a row."""
        return {w: int(self._query("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH ?",
                                   [fts_query(w)])[0][0]) for w in words}

    def term_passage_counts(self, terms: list[str]) -> dict[str, int]:
        """How many passages hold each (porter-stemmed, lower-case) term; absent terms are
        left out. A read of the FTS5 index's own term list, no table scan."""
        if not terms:
            return {}
        rows = self._query("SELECT term, doc FROM passages_vocab WHERE " + among("term"),
                           [values(terms)])
        return {str(r[0]): int(r[1]) for r in rows}

    def cached_vectors(self, text_hashes: list[str], model: str) -> dict[str, np.ndarray]:
        """Stored vectors of passages with these text hashes (so unchanged text is not re-embedded)."""
        rows = self._query(
            "SELECT text_hash, embedding FROM passages WHERE " + among("text_hash")
            + " AND embedding_model = ? AND embedding IS NOT NULL", [values(text_hashes), model])
        return {row[0]: np.frombuffer(row[1], dtype=np.float32) for row in rows}

    def stored_vectors(self, model: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(ids, vectors) of passages embedded with `model`, and ids of those that are not."""
        ids, vectors, missing = [], [], []
        for row in self._query("SELECT id, embedding, embedding_model FROM passages ORDER BY id"):
            if row[1] is not None and row[2] == model:
                ids.append(row[0])
                vectors.append(np.frombuffer(row[1], dtype=np.float32))
            else:
                missing.append(row[0])
        matrix = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        return np.asarray(ids, dtype=np.int64), matrix, missing

    def passage_ids_without_vector(self, model: str) -> list[int]:
        """Ids of passages with no vector of `model` (stored with another encoder)."""
        return [r[0] for r in self._query(
            "SELECT id FROM passages WHERE embedding IS NULL OR embedding_model IS NOT ?"
            " ORDER BY id", (model,))]

    def set_vectors(self, ids: list[int], vectors: np.ndarray, model: str) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE passages SET embedding = ?, embedding_model = ? WHERE id = ?",
                [(np.asarray(v, dtype=np.float32).tobytes(), model, i)
                 for i, v in zip(ids, vectors, strict=True)],
            )

    # sentence vectors ------------------------------------------------------------------------
    def set_sentence_vectors(self, document_id: str, sentences: SentenceVectors,
                             model: str) -> None:
        """Store (or replace) the vectors of a stored document's sentences."""
        with self.transaction() as conn:
            _insert_sentence_vectors(conn, document_id, sentences, model)

    def cached_sentence_vectors(self, input_hashes: list[str], model: str
                                ) -> dict[str, np.ndarray]:
        """Stored sentence vectors by input hash (any document's)."""
        rows = self._query(
            "SELECT input_hash, embedding FROM sentence_vectors WHERE " + among("input_hash")
            + " AND model = ?", [values(input_hashes), model])
        return {row[0]: np.frombuffer(row[1], dtype=np.float32) for row in rows}

    def sentence_vectors(self, sentences: list[tuple[str, int]], model: str
                         ) -> dict[tuple[str, int], np.ndarray]:
        """Stored vectors of (document id, sentence start) pairs; pairs without one are absent.
        One primary-key search per document (a row-value IN over all pairs would scan)."""
        starts: dict[str, list[int]] = {}
        for doc_id, start in dict.fromkeys(sentences):
            starts.setdefault(doc_id, []).append(start)
        out: dict[tuple[str, int], np.ndarray] = {}
        for doc_id, doc_starts in starts.items():
            for row in self._query(
                "SELECT start, embedding FROM sentence_vectors WHERE document_id = ? AND "
                + among("start") + " AND model = ?", [doc_id, values(doc_starts), model]):
                out[(doc_id, row[0])] = np.frombuffer(row[1], dtype=np.float32)
        return out

    def documents_without_sentence_vectors(self, model: str) -> list[str]:
        # One primary-key probe per document, not a scan of every sentence vector at start-up.
        return [r[0] for r in self._query(
            "SELECT id FROM documents d WHERE NOT EXISTS (SELECT 1 FROM sentence_vectors v"
            " WHERE v.document_id = d.id AND v.model = ?)", (model,))]

    def passage_ids(self, document_ids: list[str] | None = None,
                    published_from: str | None = None,
                    published_to: str | None = None, require_date: bool = False) -> list[int]:
        """Ids of passages of the given documents and/or published in [from, to] (ISO dates).
        Undated documents pass a date limit unless `require_date` (their date is unknown, not
        outside it)."""
        where: list[str] = []
        params: list[Any] = []
        undated = "" if require_date else " OR d.published IS NULL"
        if document_ids is not None:
            where.append(among("p.document_id"))
            params.append(values(document_ids))
        if published_from:
            where.append(f"(d.published >= ?{undated})")
            params.append(published_from)
        if published_to:
            where.append(f"(substr(d.published, 1, ?) <= ?{undated})")
            params += [len(published_to), published_to]
        if require_date:
            where.append("d.published IS NOT NULL")
        sql = "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [r[0] for r in self._query(sql, params)]

    def lexical_search(self, query: str, k: int,
                       allowed: list[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score, higher is better) from FTS5."""
        match = fts_query(query)
        if not match or (allowed is not None and not allowed):
            return []
        sql = ("SELECT rowid, bm25(passages_fts) AS score FROM passages_fts"
               " WHERE passages_fts MATCH ?")
        params: list[Any] = [match]
        if allowed is not None:
            sql += " AND " + among("+rowid")  # MATCH drives; the list only filters
            params.append(values(allowed))
        rows = self._query(sql + " ORDER BY score LIMIT ?", [*params, k])
        return [(int(r[0]), -float(r[1])) for r in rows]


def _document(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(
        id=row["id"], title=row["title"], url=row["url"], published=row["published"],
        text=row["text"], content_hash=row["content_hash"], created_at=row["created_at"],
        passage_count=int(row["passage_count"]), story_key=row["story_key"],
        superseded_by=row["superseded_by"], superseded_at=row["superseded_at"],
        pages=_pages(row["pages"]), blocks=_blocks(row["blocks"]), dates=_dates(row["dates"]),
        duplicate_of=row["duplicate_of"],
    )


def _pages(value: str | None) -> tuple[tuple[int, int], ...] | None:
    return tuple((s, e) for s, e in json.loads(value)) if value else None


def _blocks(value: str | None) -> tuple[tuple[int, int, str, int | None], ...] | None:
    return tuple((s, e, k, c) for s, e, k, c in json.loads(value)) if value else None


def _dates(value: str | None) -> tuple[DateSpan, ...] | None:
    return tuple((s, e, v, a, b) for s, e, v, a, b in json.loads(value)) if value else None


def _passage(row: sqlite3.Row) -> PassageRecord:
    return PassageRecord(
        id=row["id"], document_id=row["document_id"], title=row["title"],
        published=row["published"], ordinal=row["ordinal"], start=row["start"], end=row["end"],
        text=row["text"], sentences=tuple(TextSpan(s, e) for s, e in json.loads(row["sentences"])),
        block=row["block"],
    )


def _insert_sentence_vectors(conn: sqlite3.Connection, document_id: str,
                             sentences: SentenceVectors, model: str) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO sentence_vectors"
        " (document_id, start, model, input_hash, embedding) VALUES (?, ?, ?, ?, ?)",
        [(document_id, start, model, digest, np.asarray(v, dtype=np.float32).tobytes())
         for start, digest, v in zip(sentences.starts, sentences.input_hashes,
                                     sentences.vectors, strict=True)],
    )
