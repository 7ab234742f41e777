"""The FAISS vector index: inner product over normalized vectors, ids = passage ids. The only
module importing faiss; the default passage-index backend (qa/storage/backends/faiss_sqlite.py)
keeps its vectors here.

Exact search (IndexFlatIP) for small corpora; an inverted-file index (IndexIVFFlat, trained with
k-means when built) from `ivf_threshold` vectors on, where exact search stops being fast. IVF
keeps our ids natively and supports deletion. Written atomically (temp file + rename).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

log = logging.getLogger(__name__)

# A temporary file of a save this old was left by a process killed mid-save (a save takes
# seconds even for a million vectors).
STALE_SAVE_S = 600


class VectorIndex:
    """A FAISS index mapping int64 passage ids to vectors."""

    def __init__(self, dimension: int, ivf_threshold: int = 200_000, nprobe: int = 64):
        self.dimension = dimension
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        # faiss's bundled stubs do not know the SWIG keyword arguments; keep it loosely typed.
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> set[int]:
        if isinstance(self._index, faiss.IndexIVF):
            lists: Any = self._index.invlists
            out: set[int] = set()
            for i in range(lists.nlist):
                size = lists.list_size(i)
                if size:
                    out.update(faiss.rev_swig_ptr(lists.get_ids(i), size).tolist())
            return out
        return set(faiss.vector_to_array(self._index.id_map).tolist())

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents, choosing the index type for this many vectors."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) >= self.ivf_threshold:
            nlist = int(4 * math.sqrt(len(ids)))
            quantizer = faiss.IndexFlatIP(self.dimension)
            index: Any = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            # k-means needs ~40 points per centroid; a seeded sample keeps training quick.
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(len(vectors), min(len(vectors), 40 * nlist), replace=False)]
            index.train(sample)
            index.nprobe = self.nprobe
            self._index = index
            log.info("built IVF index: %d lists for %d vectors", nlist, len(ids))
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        self.add(ids, vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under these ids. An exact index that grows to `ivf_threshold` by adds
        becomes an IVF one, as if built at that size (a corpus ingested a day at a time would
        otherwise be searched exhaustively forever: about 0.7 s a question at 1M passages)."""
        if not len(ids):
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                 np.asarray(ids, dtype=np.int64))
        if self.outgrown:
            flat: Any = self._index
            every = faiss.vector_to_array(flat.id_map).astype(np.int64)
            self.rebuild(every, flat.index.reconstruct_n(0, flat.ntotal))

    @property
    def outgrown(self) -> bool:
        """Whether the index is exact but holds `ivf_threshold` vectors or more."""
        return self.kind == "flat" and len(self) >= self.ivf_threshold

    def remove(self, ids: list[int]) -> None:
        if ids:
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
            # Filtered IVF searches probe every list: an allowed passage may sit in any of them.
            make: Any = faiss.SearchParametersIVF if self.kind == "ivf" else faiss.SearchParameters
            extra = {"nprobe": self._index.nlist} if self.kind == "ivf" else {}
            params = make(sel=selector, **extra)
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self, path: Path) -> None:
        """Write the index to `path` atomically. Each save writes its own temporary file: two
        processes saving at once (a server and `qa ingest`) each replace the file whole, where
        one shared name let one move the other's file away mid-save. Temporary files left by
        a process killed mid-save are removed by a later save once they are stale."""
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            # the file's mode as it was (mkstemp makes a private one)
            tmp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
            faiss.write_index(self._index, str(tmp))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        stale = time.time() - STALE_SAVE_S
        for left in path.parent.glob(glob.escape(path.name) + ".*.tmp"):
            with contextlib.suppress(OSError):
                if left.stat().st_mtime < stale:
                    left.unlink()

    @classmethod
    def load(cls, path: Path, dimension: int, **kwargs: int) -> VectorIndex:
        index = cls(dimension, **kwargs)
        loaded: Any = faiss.read_index(str(path))
        if loaded.d != dimension:
            raise ValueError(f"index at {path} has dimension {loaded.d}, expected {dimension}")
        if isinstance(loaded, faiss.IndexIVF):
            loaded.nprobe = index.nprobe
        index._index = loaded
        return index


def exact_search(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The ids (row numbers of `base`) of each query's exact top-k by inner product, batched:
    the ground truth an approximate index is measured against (eval/ann.py)."""
    exact: Any = faiss.IndexFlatIP(base.shape[1])
    exact.add(np.ascontiguousarray(base, dtype=np.float32))
    _, ids = exact.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.asarray(ids)
