"""The default backend: vectors in a FAISS file beside the SQLite store, BM25 from the store's
FTS5 table (written by the store in the same transaction as the passages, so only the FAISS
file can fall behind the store)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.faiss_index import VectorIndex
from qa.storage.backends import IndexedPassage, IndexFilter, PassageIndex
from qa.storage.documents import DocumentStore

log = logging.getLogger(__name__)


class FaissIndex(PassageIndex):
    shared = False

    def __init__(self, store: DocumentStore, path: Path, dimension: int,
                 ivf_threshold: int = 200_000):
        self.store = store
        self.path = path
        self.dimension = dimension
        self.ivf_threshold = ivf_threshold
        self._vectors = VectorIndex(dimension, ivf_threshold=ivf_threshold)
        self._held: set[int] = set()  # the ids in _vectors, so a re-add replaces, never doubles

    @property
    def kind(self) -> str:
        return f"faiss {self._vectors.kind}"

    def count(self) -> int:
        return len(self._vectors)

    def ids(self) -> set[int]:
        return self._vectors.ids()

    def add(self, passages: Sequence[IndexedPassage]) -> None:
        latest = {p.id: p for p in passages}  # the last of an id given twice wins
        if not latest:
            return
        again = [i for i in latest if i in self._held]
        if again:
            self._vectors.remove(again)
        ids = np.fromiter(latest, dtype=np.int64, count=len(latest))
        self._vectors.add(ids, np.vstack([p.vector for p in latest.values()]))
        self._held.update(latest)

    def remove(self, ids: list[int]) -> None:
        self._vectors.remove(ids)
        self._held.difference_update(ids)

    def delete_documents(self, document_ids: list[str], ids: list[int]) -> None:
        # The store's FTS5 rows went with the passages; the vectors are all that is left.
        self.remove(ids)

    def _allowed(self, where: IndexFilter | None) -> list[int] | None:
        if where is None:
            return None
        allowed = self.store.passage_ids(where.document_ids, where.published_from,
                                         where.published_to, where.require_date)
        return [i for i in allowed if i not in where.exclude] if where.exclude else allowed

    def dense_search(self, vector: np.ndarray, k: int,
                     where: IndexFilter | None = None) -> list[tuple[int, float]]:
        return self._vectors.search(vector, k, self._allowed(where))

    def lexical_search(self, query: str, k: int,
                       where: IndexFilter | None = None) -> list[tuple[int, float]]:
        return self.store.lexical_search(query, k, self._allowed(where))

    def repair(self, store: DocumentStore, model: str) -> None:
        """Load the FAISS file and check it against the store; rebuild it from the stored
        vectors if they disagree or it cannot be read."""
        ids, vectors, _ = store.stored_vectors(model)
        index: VectorIndex | None = None
        if self.path.exists():
            try:
                index = VectorIndex.load(self.path, self.dimension, ivf_threshold=self.ivf_threshold)
            except Exception as exc:  # a damaged file is rebuilt, never fatal
                log.warning("index %s unreadable (%s); rebuilding", self.path, exc)
        held = index.ids() if index is not None else set()
        # An exact index that reached the IVF size by adds before they switched it is rebuilt.
        outgrown = index is not None and index.outgrown
        if index is None or held != set(ids.tolist()) or outgrown:
            if outgrown:
                log.info("exact index of %d vectors; rebuilding it as IVF", len(held))
            elif index is not None:
                log.warning("index disagrees with the store; rebuilding from stored vectors")
            index = VectorIndex(self.dimension, ivf_threshold=self.ivf_threshold)
            index.rebuild(ids, vectors if len(ids) else np.zeros((0, self.dimension), np.float32))
            index.save(self.path)
            held = set(ids.tolist())
        self._vectors = index
        self._held = held

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents, choosing the FAISS index type for this many vectors."""
        self._vectors.rebuild(ids, vectors)
        self._held = set(ids.tolist())

    def save(self) -> None:
        self._vectors.save(self.path)
