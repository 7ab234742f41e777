"""`qa bench --backend`: the passage index backends (qa/storage/backends) at growing sizes.

The text is real: every sentence of SQuAD v1.1 train + dev, one passage each (about 100k),
grouped 20 to a document with a publication date spread over ten years; larger sizes repeat
the sentences (each copy its own document), so lexical search at 1M is over real text with
real term statistics, ten copies deep. The vectors are synthetic (say so when quoting): unit
vectors clustered like topics (eval/ann.py), in the encoder's dimension; embedding 100k+
passages on two CPU cores would take an hour and measures the encoder, not the index.

Per size, the SQLite store is filled once (documents, passages, vectors and the FTS5 table:
what both backends keep, timed as `store`), then each backend's index is filled from it
(`index`, passages/s), reopened and checked against the store as a restarted service does
(`open`), and searched one query at a time: dense top-50, lexical top-50 (SQuAD dev
questions), and dense top-50 within one year of publication dates (p50/p95 ms).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from embeddings.splitter import PassageSpan, TextSpan
from eval.ann import clustered_unit_vectors
from qa.corpus import backend_config
from qa.settings import Settings
from qa.storage.backends import IndexFilter, PassageIndex, open_index, stored_passages
from qa.storage.documents import DocumentStore, content_hash

log = logging.getLogger(__name__)

BACKEND_SIZES = (10_000, 100_000)
PER_DOCUMENT = 20
MODEL = "synthetic"
DIMENSION = 384
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def squad_sentences(files: Sequence[Path]) -> list[str]:
    """Every sentence of these SQuAD files' paragraphs, in order (split at a sentence end
    followed by a capital: enough for index text; the product's splitter is spaCy's)."""
    out: list[str] = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in data:
            for paragraph in article["paragraphs"]:
                out += [s.strip() for s in _SENTENCE_END.split(paragraph["context"]) if s.strip()]
    return out


def squad_questions(path: Path, n: int) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [qa["question"] for article in data for p in article["paragraphs"]
            for qa in p["qas"]][:n]


def _documents(sentences: list[str], size: int) -> Iterator[tuple[str, str, list[str]]]:
    """(title, date, passages) of `size` passages, PER_DOCUMENT a document; the sentences
    again (another copy) when there are fewer than `size`."""
    rng = np.random.default_rng(0)
    for start in range(0, size, PER_DOCUMENT):
        chunk = [sentences[(start + i) % len(sentences)] for i in range(min(PER_DOCUMENT,
                                                                              size - start))]
        day = int(rng.integers(0, 3650))
        date = time.strftime("%Y-%m-%d", time.gmtime(1_420_070_400 + day * 86_400))  # 2015 on
        yield f"Document {start // PER_DOCUMENT}", date, chunk


def fill_store(store: DocumentStore, sentences: list[str], size: int,
               vectors: np.ndarray, progress: bool) -> float:
    """The store holding `size` passages; returns the seconds it took."""
    t0 = time.perf_counter()
    offset = 0
    for title, date, chunk in tqdm(list(_documents(sentences, size)), desc=f"store {size}",
                                   unit="doc", disable=not progress):
        text, spans = "", []
        for ordinal, sentence in enumerate(chunk):
            start = len(text)
            text += sentence + " "
            spans.append(PassageSpan(ordinal, start, start + len(sentence),
                                     (TextSpan(start, start + len(sentence)),)))
        text = text.rstrip() + f" [{title}]"  # a copy's text differs: its own document
        store.add_document(title=title, text=text, url=None, published=date, passages=spans,
                           vectors=vectors[offset : offset + len(chunk)],
                           input_hashes=[content_hash(f"{title}/{i}") for i in range(len(chunk))],
                           model=MODEL)
        offset += len(chunk)
    return time.perf_counter() - t0


def _percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(ms, 50)), 2),
            "p95": round(float(np.percentile(ms, 95)), 2)}


def _timed(calls: Sequence[Any], run: Any) -> dict[str, float]:
    ms = []
    for call in calls:
        t = time.perf_counter()
        run(call)
        ms.append((time.perf_counter() - t) * 1000)
    return _percentiles(ms)


def bench_backend(settings: Settings, store: DocumentStore, size: int, queries: np.ndarray,
                  questions: list[str], progress: bool) -> dict[str, Any]:
    index: PassageIndex = open_index(backend_config(settings), store, DIMENSION)
    drop = getattr(index, "drop", None)
    if drop is not None:  # a collection left by an earlier size: start empty
        drop()
    ids = sorted(store.embedded_passage_ids(MODEL))
    t0 = time.perf_counter()
    for chunk in tqdm(stored_passages(store, ids, MODEL, chunk=5_000), total=-(-len(ids) // 5_000),
                      desc=f"{settings.backend} {size}", unit="chunk", disable=not progress):
        index.add(chunk)
    index.save()
    index_s = time.perf_counter() - t0
    index.close()
    t0 = time.perf_counter()
    index = open_index(backend_config(settings), store, DIMENSION)
    index.repair(store, MODEL)  # the restart check: nothing to repair, everything compared
    open_s = time.perf_counter() - t0
    assert index.count() == size, (index.count(), size)
    year = IndexFilter(published_from="2019-01-01", published_to="2019-12-31", require_date=True)
    index.dense_search(queries[0], 50)  # the first search loads what it needs
    row = {
        "backend": settings.backend, "kind": index.kind, "passages": size,
        "index_s": round(index_s, 1), "index_passages_per_s": round(size / index_s),
        "open_s": round(open_s, 2),
        "dense_ms": _timed(list(queries), lambda q: index.dense_search(q, 50)),
        "lexical_ms": _timed(questions, lambda q: index.lexical_search(q, 50)),
        "dense_one_year_ms": _timed(list(queries), lambda q: index.dense_search(q, 50, year)),
    }
    index.close()
    return row


def run_backend_bench(base: Settings, squad_files: Sequence[Path], sizes: Sequence[int],
                      backends: Sequence[str], searches: int = 200,
                      progress: bool = False) -> list[dict[str, Any]]:
    sentences = squad_sentences(squad_files)
    questions = squad_questions(squad_files[-1], searches)
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        base_vectors, centers = clustered_unit_vectors(size, DIMENSION, 2000, 1.25, rng)
        queries, _ = clustered_unit_vectors(searches, DIMENSION, 2000, 1.25, rng, centers)
        with tempfile.TemporaryDirectory(prefix=f"qa-backend-bench-{size}-") as tmp:
            store = DocumentStore(Path(tmp) / "qa.sqlite3")
            store_s = fill_store(store, sentences, size, base_vectors, progress)
            del base_vectors
            for backend in backends:
                settings = replace_settings(base, Path(tmp), backend)
                row = bench_backend(settings, store, size, queries, questions, progress)
                row["store_s"] = round(store_s, 1)
                row["ingest_passages_per_s"] = round(size / (store_s + row["index_s"]))
                row["distinct_sentences"] = min(size, len(sentences))
                log.info("backend bench: %s", row)
                rows.append(row)
            store.close()
    return rows


def replace_settings(base: Settings, data_dir: Path, backend: str) -> Settings:
    return base.model_copy(update={"data_dir": data_dir, "backend": backend,
                                   "milvus_collection": "bench_passages"})


def format_backend_rows(rows: list[dict[str, Any]]) -> str:
    head = ("| backend | passages | store s | index s | index passages/s | ingest passages/s "
            "(store + index) | open s | dense p50 / p95 ms | lexical p50 / p95 ms | dense, one "
            "year, p50 / p95 ms |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        def pair(key: str, r: dict[str, Any] = r) -> str:
            return f"{r[key]['p50']} / {r[key]['p95']}"
        lines.append(f"| {r['kind']} | {r['passages']:,} | {r['store_s']} | {r['index_s']} | "
                     f"{r['index_passages_per_s']:,} | {r['ingest_passages_per_s']:,} | "
                     f"{r['open_s']} | {pair('dense_ms')} | {pair('lexical_ms')} | "
                     f"{pair('dense_one_year_ms')} |")
    return "\n".join(lines)


__all__ = ["BACKEND_SIZES", "format_backend_rows", "run_backend_bench"]
