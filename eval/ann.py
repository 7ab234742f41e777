"""Approximate vs exact search at scale, on synthetic vectors.

The vectors are synthetic (say so when quoting numbers): a mixture of Gaussian clusters on the
unit sphere in the encoder's dimension, a stand-in for real passage embeddings, which are
clustered by topic. Queries are fresh points drawn the same way. Recall@10 compares the index
the product builds at this size (`VectorIndex`, the FAISS backend's) with exact search.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from embeddings.faiss_index import VectorIndex, exact_search

log = logging.getLogger(__name__)


def clustered_unit_vectors(n: int, dim: int, clusters: int, spread: float,
                           rng: np.random.Generator, centers: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    if centers is None:
        centers = rng.normal(size=(clusters, dim)).astype(np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        v = centers[rng.integers(0, len(centers), m)] + \
            spread * rng.normal(size=(m, dim)).astype(np.float32) / np.sqrt(dim)
        out[i : i + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, centers


def run_ann_benchmark(n: int = 1_000_000, dim: int = 384, queries: int = 200, k: int = 10,
                      clusters: int = 2000, spread: float = 1.25, nprobe: int = 64,
                      seed: int = 0) -> dict[str, Any]:
    """Build the product's index over `n` synthetic vectors; report recall@k against exact
    search and search latency (p50/p95 ms, one query at a time)."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    base, centers = clustered_unit_vectors(n, dim, clusters, spread, rng)
    query_vectors, _ = clustered_unit_vectors(queries, dim, clusters, spread, rng, centers)
    generate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    truth = exact_search(base, query_vectors, k)
    exact_ms = (time.perf_counter() - t0) * 1000 / queries

    index = VectorIndex(dim, nprobe=nprobe)
    t0 = time.perf_counter()
    index.rebuild(np.arange(n, dtype=np.int64), base)
    build_s = time.perf_counter() - t0

    latencies, hits = [], 0
    for qi in tqdm(range(queries), desc="ann queries", unit="q"):
        t = time.perf_counter()
        found = index.search(query_vectors[qi], k)
        latencies.append((time.perf_counter() - t) * 1000)
        hits += len({i for i, _ in found} & set(truth[qi].tolist()))
    return {
        "vectors": n, "dimension": dim, "synthetic": True, "clusters": clusters,
        "index": index.kind, "nprobe": nprobe, "build_s": round(build_s, 1),
        "generate_s": round(generate_s, 1), f"recall@{k}_vs_exact": round(hits / (queries * k), 4),
        "search_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "search_p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "exact_search_ms_per_query_batched": round(exact_ms, 3),
    }
