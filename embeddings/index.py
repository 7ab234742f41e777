"""The FAISS vector index: inner product over normalized vectors, ids = passage ids.

Exact search (IndexFlatIP) for small corpora; HNSW beyond `hnsw_threshold` vectors, where exact
search stops being fast enough. Written atomically (temp file + rename).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """A FAISS index mapping int64 passage ids to vectors."""

    def __init__(self, dimension: int, hnsw_threshold: int = 200_000, hnsw_m: int = 32,
                 ef_search: int = 128):
        self.dimension = dimension
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._index: faiss.Index = self._new_index(0)

    def _new_index(self, expected: int) -> faiss.Index:
        if expected >= self.hnsw_threshold:
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.ef_search
        else:
            inner = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(inner)

    @property
    def kind(self) -> str:
        inner = faiss.downcast_index(self._index.index)
        return "hnsw" if isinstance(inner, faiss.IndexHNSWFlat) else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> set[int]:
        return set(faiss.vector_to_array(self._index.id_map).tolist())

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents (choosing the index type for this size)."""
        self._index = self._new_index(len(ids))
        self.add(ids, vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        if self.kind == "hnsw":
            # HNSW cannot delete: rebuild without the removed ids.
            keep = faiss.vector_to_array(self._index.id_map)
            mask = ~np.isin(keep, np.asarray(ids, dtype=np.int64))
            vectors = np.vstack([self._index.reconstruct(int(i)) for i in keep[mask]]) if mask.any() \
                else np.zeros((0, self.dimension), dtype=np.float32)
            self.rebuild(keep[mask], vectors)
        else:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int,
               allowed: list[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) for one normalized query vector, optionally only among
        the `allowed` passage ids."""
        if len(self) == 0 or k <= 0 or (allowed is not None and not allowed):
            return []
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search) \
                if self.kind == "hnsw" else faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimension: int, **kwargs: int) -> VectorIndex:
        index = cls(dimension, **kwargs)
        loaded = faiss.read_index(str(path))
        if loaded.d != dimension:
            raise ValueError(f"index at {path} has dimension {loaded.d}, expected {dimension}")
        index._index = loaded
        inner = faiss.downcast_index(loaded.index)
        if isinstance(inner, faiss.IndexHNSWFlat):
            inner.hnsw.efSearch = index.ef_search
        return index
