"""The passage index: where retrieval's two first-stage searches (dense and lexical) run.

Two backends behind one interface, `PassageIndex`, chosen by one setting (`QA_BACKEND`):

- ``faiss`` (the default): the vectors in a FAISS file beside the SQLite store
  (faiss_sqlite.py, over embeddings/faiss_index.py), BM25 from the store's own FTS5 table.
  One process's copy of the index, caught up with other processes' writes through the
  store's corpus version.
- ``milvus``: one Milvus collection (milvus.py) holding each passage's vector, its text as
  FTS5 terms for Milvus's BM25 function and the fields filters need (document id, publication
  date). Shared by every process that talks to the same Milvus.

Either way the SQLite store (qa/storage/documents.py) stays the record of documents and
passages: text, offsets, sentence spans and the vectors themselves, so an index can always be
rebuilt or repaired from it without embedding anything again (`repair`, `qa migrate-index`).

Nothing outside this package imports pymilvus, nor uses the FAISS wrapper (the one importer
of faiss) but faiss_sqlite.py and the ANN measurement (eval/ann.py).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from qa.storage.documents import DocumentStore

log = logging.getLogger(__name__)

Backend = Literal["faiss", "milvus"]


@dataclass(frozen=True)
class IndexedPassage:
    """What an index holds of a passage: its id, the filter fields, its text and vector."""

    id: int
    document_id: str
    published: str | None
    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class IndexFilter:
    """Which passages a search may return: those of `document_ids` (None: any document),
    published within [published_from, published_to] (ISO dates; a shorter `published_to` such
    as "2024-05" covers all of it; undated passages pass unless `require_date`), less
    `exclude`."""

    document_ids: list[str] | None = None
    published_from: str | None = None
    published_to: str | None = None
    require_date: bool = False
    exclude: frozenset[int] = frozenset()


class PassageIndex(ABC):
    """Dense and lexical search over passages, with writes idempotent by passage id."""

    #: whether other processes' writes reach this index directly (nothing to catch up with)
    shared: bool = False

    @property
    @abstractmethod
    def kind(self) -> str:
        """The backend and its index type, for logs and health reports."""

    @abstractmethod
    def count(self) -> int:
        """How many passages the index holds."""

    def __len__(self) -> int:
        return self.count()

    @abstractmethod
    def ids(self) -> set[int]:
        """Every passage id the index holds."""

    @abstractmethod
    def add(self, passages: Sequence[IndexedPassage]) -> None:
        """Add or replace passages by id: adding a passage again never duplicates it."""

    @abstractmethod
    def remove(self, ids: list[int]) -> None:
        """Remove passages by id (ids not held are ignored)."""

    @abstractmethod
    def delete_documents(self, document_ids: list[str], ids: list[int]) -> None:
        """Remove every passage of these documents; `ids` are those the store knew of."""

    @abstractmethod
    def dense_search(self, vector: np.ndarray, k: int,
                     where: IndexFilter | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) for one normalized query vector."""

    @abstractmethod
    def lexical_search(self, query: str, k: int,
                       where: IndexFilter | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score, higher is better) for the words of `query`."""

    @abstractmethod
    def repair(self, store: DocumentStore, model: str) -> None:
        """Bring the index into agreement with the store's passages embedded with `model` (a
        crash between the store's commit and the index write, another process's writes, a
        damaged index file), from the stored vectors."""

    def catch_up(self, store: DocumentStore, model: str) -> tuple[int, int]:
        """Add the store's passages the index lacks and drop those gone from the store;
        returns (added, removed). A shared index has nothing to catch up with: each writer
        writes it directly."""
        if self.shared:
            return 0, 0
        stored = store.embedded_passage_ids(model)
        held = self.ids()
        gone, new = sorted(held - stored), sorted(stored - held)
        self.remove(gone)
        for chunk in stored_passages(store, new, model):
            self.add(chunk)
        return len(new), len(gone)

    def save(self) -> None:  # noqa: B027 (a no-op unless the backend needs it)
        """Make the writes so far durable (a no-op where the engine does it)."""

    def close(self) -> None:  # noqa: B027
        """Release connections."""


def stored_passages(store: DocumentStore, ids: Sequence[int], model: str,
                    chunk: int = 2000) -> Iterator[list[IndexedPassage]]:
    """The store's passages of `ids` embedded with `model`, as an index holds them, a chunk at
    a time (a large corpus never in memory at once)."""
    ids = list(ids)
    for i in range(0, len(ids), chunk):
        found, vectors = store.vectors(ids[i : i + chunk], model)
        records = store.passages(found.tolist())
        out = [IndexedPassage(int(pid), r.document_id, r.published, r.text, vector)
               for pid, vector in zip(found.tolist(), vectors, strict=True)
               if (r := records.get(int(pid))) is not None]
        if out:
            yield out


@dataclass(frozen=True)
class BackendConfig:
    """Where and how a backend keeps its index (from qa.settings.Settings)."""

    backend: Backend
    faiss_path: Path
    ivf_threshold: int = 200_000
    milvus_uri: str = ""
    milvus_token: str | None = None
    milvus_collection: str = "passages"
    milvus_index: str = "FLAT"


def open_index(config: BackendConfig, store: DocumentStore, dimension: int) -> PassageIndex:
    """The configured backend's index over `store` (not yet repaired: call `repair`)."""
    if config.backend == "milvus":
        try:
            from qa.storage.backends.milvus import MilvusIndex
        except ImportError as exc:  # the optional extra is not installed
            raise RuntimeError("QA_BACKEND=milvus needs pymilvus (pip install -e '.[milvus]')"
                               ) from exc
        return MilvusIndex(config.milvus_uri, config.milvus_token, config.milvus_collection,
                           dimension, config.milvus_index, term_counts=store.term_passage_counts,
                           fts_totals=store.fts_totals,
                           phrase_counts=store.phrase_passage_counts)
    from qa.storage.backends.faiss_sqlite import FaissIndex
    return FaissIndex(store, config.faiss_path, dimension, config.ivf_threshold)


__all__ = ["Backend", "BackendConfig", "IndexFilter", "IndexedPassage", "PassageIndex",
           "open_index", "stored_passages"]
