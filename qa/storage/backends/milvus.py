"""The Milvus backend: one collection holding, per passage, its vector, its text as FTS5 terms
(Milvus's BM25 function turns them into a sparse vector at insert) and the filter fields.

- Lexical parity with the default backend: the text sent to Milvus is the passage's terms as
  SQLite FTS5's `porter unicode61` tokenizer makes them (the same tokenizer the default
  backend searches with), joined by spaces; the query goes through the same tokenizer. Milvus's
  own analyzers stem differently (Milvus Standalone's `english` is Snowball) or not at all
  (Milvus Lite knows only `standard` and `jieba`), so each side's analyzer only splits on the
  spaces. BM25 runs in the engine with FTS5's k1 = 1.2 and b = 0.75; its IDF is Lucene's
  log(1 + (N - n + 0.5) / (n + 0.5)) where FTS5 has log((N - n + 0.5) / (n + 0.5)), so its
  scores differ a little. With the store's term counts at hand (as the service has them), the
  engine's best max(2k, k + 50) for the query's informative terms (those FTS5 weighs, `weighed`;
  then every term, when those find fewer than k) are scored again with FTS5's own formula
  (`fts5_bm25`: the store's term and phrase counts, and its totals record), ties in passage
  order, so both backends rank and score passages alike (a passage beyond that pool can still
  be missed; a pathological passage whose terms were cut to fit the field is scored on what
  was kept).
- Dense search: inner product over the normalized vectors; FLAT (exact, as the default
  backend below its IVF threshold) unless QA_MILVUS_INDEX says IVF_FLAT or HNSW.
- Writes are upserts by passage id (a retried ingest never duplicates); deleting a document
  deletes by its id, so passages the store no longer knows of go too.
- Filters run in the engine: document ids, publication dates (stored as ISO text, "" when
  undated) and excluded ids.

URIs: a local path ending in .db is Milvus Lite (embedded, in this process), anything else a
Milvus server (http://host:19530), with QA_MILVUS_TOKEN ("user:password" or an API key).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient

from qa.storage.backends import IndexedPassage, IndexFilter, PassageIndex, stored_passages
from qa.storage.db import transaction
from qa.storage.documents import DocumentStore, fts_words

log = logging.getLogger(__name__)

MAX_TOP_K = 16_384  # Milvus's limit on one search's results
_TEXT_BYTES = 65_535  # a VARCHAR field's limit
_WRITE_BATCH = 2_000
_INDEXES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # type: (build params, search params)
    "FLAT": ({}, {}),
    "IVF_FLAT": ({"nlist": 1024}, {"nprobe": 64}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
}


class Fts5Terms:
    """The terms SQLite FTS5's `porter unicode61` tokenizer makes of texts (lower-cased,
    diacritics removed, Porter-stemmed), read back through an in-memory FTS5 table's
    `instance` vocabulary."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._conn.execute("CREATE VIRTUAL TABLE t USING fts5 (text, tokenize = 'porter unicode61')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in texts]
        # The scratch table is emptied in the same transaction (rolled back on failure).
        with self._lock, transaction(self._conn) as conn:
            conn.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)",
                             [(i + 1, t) for i, t in enumerate(texts)])
            for doc, term in conn.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                out[int(doc) - 1].append(str(term))
            conn.execute("DELETE FROM t")
        return out


def fts5_bm25(phrases: list[list[str]], hits: list[int], passages: list[list[str]],
              rows: int, tokens: int, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """Each passage's (its FTS5 terms) BM25 for an OR of `phrases` (each the terms of one query
    word, held by `hits` passages), as SQLite FTS5's bm25() computes it: IDF log((N - n + 0.5)
    / (n + 0.5)), at least 1e-6, over `rows` passages of `tokens / rows` terms on average.
    Higher is better."""
    avgdl = tokens / rows if rows and tokens else 1.0
    idf = [max(math.log((rows - n + 0.5) / (n + 0.5)), 1e-6) if rows else 1e-6 for n in hits]
    scores = []
    for terms in passages:
        length = len(terms)
        norm = k1 * (1 - b + b * length / avgdl)
        score = 0.0
        for phrase, weight in zip(phrases, idf, strict=True):
            tf = _occurrences(phrase, terms)
            if tf:
                score += weight * tf * (k1 + 1) / (tf + norm)
        scores.append(score)
    return scores


def _occurrences(phrase: list[str], terms: list[str]) -> int:
    if len(phrase) == 1:
        return terms.count(phrase[0])
    n = len(phrase)
    return sum(terms[i : i + n] == phrase for i in range(len(terms) - n + 1))


def weighed(terms: list[str], counts: dict[str, int], total: int) -> list[str]:
    """The terms FTS5's BM25 gives weight to, of `total` passages (`counts`: how many hold each
    term, from the store's FTS5 vocabulary, which holds the same passages): a term in half the
    passages or more has an IDF of 0 there (log((N - n + 0.5) / (n + 0.5)), floored at 1e-6)
    but up to log 2 in Milvus's (log(1 + ...)), so on Milvus it would rank passages that only
    repeat it; it is left out (all terms kept when every one is that common)."""
    return [t for t in terms if 2 * counts.get(t, 0) < total] or terms


def _text_field(terms: list[str]) -> str:
    text = " ".join(terms)
    if len(text.encode("utf-8")) > _TEXT_BYTES:  # only a pathological passage gets here
        text = text.encode("utf-8")[: _TEXT_BYTES - 4].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return text


def filter_expression(where: IndexFilter | None) -> str:
    """`where` as a Milvus boolean expression ("" for no filter). Dates are ISO strings, so
    string order is date order; "" is an undated passage. `published_to` covers every date it
    is a prefix of ("2024-05" is all of May): every character an ISO date continues with
    sorts before "~"."""
    if where is None:
        return ""
    parts: list[str] = []
    if where.document_ids is not None:
        parts.append(f"document_id in {json.dumps(list(where.document_ids))}")
    undated = "" if where.require_date else ' or published == ""'
    if where.published_from:
        parts.append(f"(published >= {json.dumps(where.published_from)}{undated})")
    if where.published_to:
        parts.append(f"(published < {json.dumps(where.published_to + '~')})")
    if where.require_date:
        parts.append('published != ""')
    if where.exclude:
        parts.append(f"id not in {json.dumps(sorted(where.exclude))}")
    return " and ".join(parts)


class MilvusIndex(PassageIndex):
    shared = True

    def __init__(self, uri: str, token: str | None, collection: str, dimension: int,
                 index_type: str = "FLAT",
                 term_counts: Callable[[list[str]], dict[str, int]] | None = None,
                 fts_totals: Callable[[], tuple[int, int]] | None = None,
                 phrase_counts: Callable[[list[str]], dict[str, int]] | None = None):
        if index_type not in _INDEXES:
            raise ValueError(f"unknown Milvus index type {index_type!r}; one of {sorted(_INDEXES)}")
        self.uri = uri
        self.collection = collection
        self.dimension = dimension
        self.index_type = index_type
        self.lite = uri.endswith(".db")  # Milvus Lite, in this process
        self._term_counts = term_counts
        self._fts_totals = fts_totals
        self._phrase_counts = phrase_counts
        self._client = MilvusClient(uri=uri, token=token or "")
        self._terms = Fts5Terms()
        self._ensure_collection()

    @property
    def kind(self) -> str:
        return f"milvus {self.index_type}"

    # the collection --------------------------------------------------------------------------
    def _ensure_collection(self) -> None:
        if self._client.has_collection(self.collection):
            dim = self._collection_dimension()
            if dim == self.dimension:
                self._client.load_collection(self.collection)
                return
            log.warning("Milvus collection %s holds %s-dimensional vectors, the encoder makes %d;"
                        " recreating it (repair refills it from the store)", self.collection, dim,
                        self.dimension)
            self._client.drop_collection(self.collection)
        self._create_collection()

    def _collection_dimension(self) -> int | None:
        described = self._client.describe_collection(self.collection)
        for field in described.get("fields", []):
            if field.get("name") == "vector":
                dim = field.get("params", {}).get("dim")
                return int(dim) if dim is not None else None
        return None

    def _create_collection(self) -> None:
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("document_id", DataType.VARCHAR, max_length=64)
        schema.add_field("published", DataType.VARCHAR, max_length=64)
        # Already FTS5 terms joined by spaces: the analyzer only splits them again.
        schema.add_field("text", DataType.VARCHAR, max_length=_TEXT_BYTES, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        params = self._client.prepare_index_params()
        params.add_index("vector", index_type=self.index_type, metric_type="IP",
                         params=_INDEXES[self.index_type][0])
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": 1.2, "bm25_b": 0.75})
        params.add_index("document_id", index_type="INVERTED")
        self._client.create_collection(self.collection, schema=schema, index_params=params,
                                       consistency_level="Strong")
        log.info("created Milvus collection %s (%d dimensions, %s)", self.collection,
                 self.dimension, self.index_type)

    def drop(self) -> None:
        """Drop the collection and create it empty."""
        self._client.drop_collection(self.collection)
        self._create_collection()

    # reads -----------------------------------------------------------------------------------
    def count(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def ids(self) -> set[int]:
        """Every id, read in id ranges of MAX_TOP_K (a query's most rows) until as many as the
        collection counts are found. Passage ids are the store's row ids, dense from 1; ids
        past 2^31 (none expected) are read in one last query. Milvus's query iterator is not
        used: Milvus Lite lacks the timestamp call it starts with."""
        total = self.count()
        out: set[int] = set()
        lo = 0
        while len(out) < total and lo < 2**31:
            rows = self._client.query(self.collection, filter=f"id >= {lo} and id < {lo + MAX_TOP_K}",
                                      output_fields=["id"], limit=MAX_TOP_K)
            out.update(int(row["id"]) for row in rows)
            lo += MAX_TOP_K
        if len(out) < total:
            rows = self._client.query(self.collection, filter=f"id >= {lo}", output_fields=["id"],
                                      limit=MAX_TOP_K)
            out.update(int(row["id"]) for row in rows)
        return out

    def _hits(self, data: list[Any], field: str, k: int, where: IndexFilter | None,
              params: dict[str, Any], output_fields: list[str] | None = None) -> list[Any]:
        if k <= 0 or (where is not None and where.document_ids is not None
                      and not where.document_ids):
            return []
        hits = self._client.search(self.collection, data=data, anns_field=field,
                                   limit=min(k, MAX_TOP_K), filter=filter_expression(where),
                                   search_params=params, output_fields=output_fields or [])
        return list(hits[0])

    def _search(self, data: list[Any], field: str, k: int, where: IndexFilter | None,
                params: dict[str, Any]) -> list[tuple[int, float]]:
        # A BM25 score is never negative; Milvus returns it as the distance, Milvus Lite 3.2
        # returns its negation (its engine's smaller-is-better distance, left unconverted).
        # Either way hits come best first.
        score = abs if field == "sparse" else float
        return [(int(h["id"]), float(score(h["distance"])))
                for h in self._hits(data, field, k, where, params)]

    def dense_search(self, vector: np.ndarray, k: int,
                     where: IndexFilter | None = None) -> list[tuple[int, float]]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        return self._search([query], "vector", k, where,
                            {"metric_type": "IP", "params": _INDEXES[self.index_type][1]})

    def lexical_search(self, query: str, k: int,
                       where: IndexFilter | None = None) -> list[tuple[int, float]]:
        # FTS5's query: an OR of the query's distinct words, each a phrase of its terms.
        words = fts_words(query)
        phrase_of = [(w, p) for w, p in zip(words, self._terms(words), strict=True) if p] \
            if words else []
        terms = list(dict.fromkeys(t for _, p in phrase_of for t in p))
        if not terms:
            return []
        if self._term_counts is None:
            return self._search([" ".join(terms)], "sparse", k, where, {"metric_type": "BM25"})
        counts = self._term_counts(terms)
        params = {"metric_type": "BM25"}
        if self._fts_totals is None or self._phrase_counts is None:
            informative = weighed(terms, counts, self.count())
            return self._search([" ".join(informative)], "sparse", k, where, params)
        rows, tokens = self._fts_totals()  # the store's passages: the same as the collection's
        informative = weighed(terms, counts, rows)
        depth = max(2 * k, k + 50)
        pool = self._hits([" ".join(informative)], "sparse", depth, where, params, ["text"])
        if len(pool) < k and len(informative) < len(terms):
            # FTS5 also returns passages that hold only the common terms (at a score near 0,
            # but fusion counts their ranks)
            seen = {int(h["id"]) for h in pool}
            pool += [h for h in self._hits([" ".join(terms)], "sparse", depth, where, params,
                                           ["text"]) if int(h["id"]) not in seen]
        # a word FTS5 makes several terms of ("covid_19", rare) is a phrase: its own count
        multi = self._phrase_counts([w for w, p in phrase_of if len(p) > 1])
        hits = [multi[w] if len(p) > 1 else counts.get(p[0], 0) for w, p in phrase_of]
        scores = fts5_bm25([p for _, p in phrase_of], hits,
                           [str(h["entity"]["text"]).split() for h in pool], rows, tokens)
        # ties in passage order, as FTS5 lists its matches
        ranked = sorted(zip((int(h["id"]) for h in pool), scores, strict=True),
                        key=lambda hit: (-hit[1], hit[0]))
        return ranked[:k]

    # writes ----------------------------------------------------------------------------------
    def add(self, passages: Sequence[IndexedPassage]) -> None:
        latest = list({p.id: p for p in passages}.values())
        for i in range(0, len(latest), _WRITE_BATCH):
            batch = latest[i : i + _WRITE_BATCH]
            terms = self._terms([p.text for p in batch])
            self._client.upsert(self.collection, [
                {"id": p.id, "document_id": p.document_id, "published": p.published or "",
                 "text": _text_field(t),
                 "vector": np.asarray(p.vector, dtype=np.float32).reshape(-1).tolist()}
                for p, t in zip(batch, terms, strict=True)])

    def remove(self, ids: list[int]) -> None:
        for i in range(0, len(ids), _WRITE_BATCH):
            self._client.delete(self.collection, ids=[int(x) for x in ids[i : i + _WRITE_BATCH]])

    def delete_documents(self, document_ids: list[str], ids: list[int]) -> None:
        if document_ids:
            self._client.delete(self.collection,
                                filter=f"document_id in {json.dumps(list(document_ids))}")

    def repair(self, store: DocumentStore, model: str) -> None:
        """Upsert the store's passages the collection lacks (a crash after the store's commit)
        and delete those the store no longer has (a crash after a document's deletion)."""
        stored = store.embedded_passage_ids(model)
        held = self.ids()
        gone, new = sorted(held - stored), sorted(stored - held)
        if gone:
            log.warning("Milvus holds %d passages the store does not; removing them", len(gone))
            self.remove(gone)
        if new:
            log.warning("Milvus lacks %d of the store's passages; adding them from the stored"
                        " vectors", len(new))
            for chunk in stored_passages(store, new, model):
                self.add(chunk)

    def save(self) -> None:
        """Milvus makes each write durable itself (its write-ahead log). Milvus Lite also
        rebuilds the index of rows not yet flushed to a segment on every search (up to its
        128 MB memtable: with 2,000 passages unflushed, searches took about 10 times as long),
        so a write there ends with a flush; Milvus Standalone indexes growing segments itself
        and is not asked to flush (frequent flushes make small segments)."""
        if self.lite:
            self._client.flush(self.collection)

    def close(self) -> None:
        self._client.close()
