"""`qa eval beir`: the service's retrieval on a BEIR-format set (corpus.jsonl, queries.jsonl,
qrels/<split>.tsv): nDCG@10, Recall@10/100, MRR@10 and retrieval latency.

Every corpus document goes into one fresh, empty index (title + text, as `NewDocument`); each
query runs through the service's HybridRetriever, and passage results are turned into a document
ranking (a document ranks where its first, best passage ranks). `--fusion` takes several values
to produce ablation rows from one index. `--max-docs` cuts the corpus down for smoke runs (every
relevant document of the chosen queries is kept): such numbers are not comparable with published
BEIR results.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval.metrics import mean, mrr_at_k, ndcg_at_k, recall_at_k
from eval.report import beir_report, summarize_ms
from qa.retriever import HybridRetriever
from qa.service import QAService
from qa.settings import Settings, get_settings
from qa.types import NewDocument, RetrievedPassage

log = logging.getLogger(__name__)

FUSIONS = ("rrf", "rrf-sentence", "rrf-no-rescore", "dense", "lexical")
# the retrieval settings of each row (the same index serves them all)
ROW_SETTINGS: dict[str, dict[str, Any]] = {
    "rrf": {"fusion": "rrf"},  # with the configured re-scorer (QA_RESCORER, learned by default)
    "rrf-sentence": {"fusion": "rrf", "rescorer": "sentence"},
    "rrf-no-rescore": {"fusion": "rrf", "rescorer": "off"},
    "dense": {"fusion": "dense"},
    "lexical": {"fusion": "lexical"},
}


@dataclass(frozen=True)
class BeirDocument:
    id: str
    title: str
    text: str


@dataclass
class BeirSet:
    name: str
    documents: list[BeirDocument]  # file order
    queries: dict[str, str]  # id -> text, file order
    qrels: dict[str, dict[str, int]]  # query id -> document id -> grade


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> document id -> grade from a BEIR qrels TSV (its first line is a header)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        next(rows, None)
        for row in rows:
            if len(row) < 3:
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def load_beir(path: Path, split: str = "test") -> BeirSet:
    path = Path(path)
    docs = [BeirDocument(str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or ""))
            for d in _jsonl(path / "corpus.jsonl")]
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(path / "queries.jsonl")}
    return BeirSet(path.name, docs, queries, read_qrels(path / "qrels" / f"{split}.tsv"))


def select_queries(data: BeirSet, limit: int | None, seed: int = 0) -> list[str]:
    """Ids of queries with text and at least one relevant document, in file order; `limit`
    draws a seeded (reproducible) sample of them."""
    ids = [q for q in data.queries if any(g > 0 for g in data.qrels.get(q, {}).values())]
    if limit is not None and limit < len(ids):
        chosen = sorted(random.Random(seed).sample(range(len(ids)), limit))
        ids = [ids[i] for i in chosen]
    return ids


def select_documents(data: BeirSet, query_ids: Sequence[str], max_docs: int | None,
                     seed: int = 0) -> list[BeirDocument]:
    """The documents to index: all of them, or (smoke runs) the relevant documents of the
    chosen queries plus a seeded sample of the others, `max_docs` in all, in file order."""
    if max_docs is None or max_docs >= len(data.documents):
        return list(data.documents)
    relevant = {d for q in query_ids for d, g in data.qrels.get(q, {}).items() if g > 0}
    keep = [i for i, d in enumerate(data.documents) if d.id in relevant]
    others = [i for i, d in enumerate(data.documents) if d.id not in relevant]
    room = max(0, max_docs - len(keep))
    keep += random.Random(seed).sample(others, min(room, len(others)))
    return [data.documents[i] for i in sorted(keep)]


def as_new_document(doc: BeirDocument) -> NewDocument | None:
    """The document as the service stores it; the id stands in for a missing title (the store
    requires one), the title for a missing text; None when both are empty."""
    text = doc.text.strip() or doc.title.strip()
    if not text:
        return None
    return NewDocument(title=doc.title.strip() or doc.id, text=text)


def index_documents(service: QAService, docs: Sequence[BeirDocument],
                    progress: bool = False) -> dict[str, list[str]]:
    """Add the documents to an empty service in one call; stored id -> BEIR ids (documents
    with identical text share one stored document)."""
    if service.corpus.passage_count():
        raise ValueError("BEIR evaluation needs a fresh, empty index")
    pairs = [(d.id, n) for d in docs if (n := as_new_document(d)) is not None]
    if len(pairs) < len(docs):
        log.warning("%d documents without title or text were left out", len(docs) - len(pairs))
    results = service.add_documents([n for _, n in pairs], progress=progress)
    stored: dict[str, list[str]] = {}
    for (beir_id, _), result in zip(pairs, results, strict=True):
        stored.setdefault(result.document.id, []).append(beir_id)
    return stored


def document_ranking(passages: Sequence[RetrievedPassage],
                     stored_to_beir: dict[str, list[str]]) -> list[str]:
    """BEIR document ids in rank order: a document takes the rank of its first (best-scored)
    passage; documents sharing stored text come together, in file order."""
    ranked: list[str] = []
    seen: set[str] = set()
    for p in passages:
        if p.document_id not in seen:
            seen.add(p.document_id)
            ranked.extend(stored_to_beir.get(p.document_id, []))
    return ranked


def retrieval_metrics(rankings: dict[str, list[str]],
                      qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """nDCG@10 (graded), Recall@10/100 and MRR@10 (relevant = grade > 0), means over queries."""
    qids = list(rankings)
    flags = [[qrels[q].get(d, 0) > 0 for d in rankings[q]] for q in qids]
    n_rel = [sum(1 for g in qrels[q].values() if g > 0) for q in qids]
    return {
        "ndcg@10": mean(ndcg_at_k(rankings[q], qrels[q], 10) for q in qids),
        "recall@10": recall_at_k(flags, 10, n_rel),
        "recall@100": recall_at_k(flags, 100, n_rel),
        "mrr@10": mrr_at_k(flags, 10),
    }


def run_queries(retriever: HybridRetriever, data: BeirSet, query_ids: Sequence[str],
                stored_to_beir: dict[str, list[str]], depth: int, progress: bool = False,
                label: str = "") -> tuple[dict[str, list[str]], list[float]]:
    """Document rankings per query and retrieval latency (ms) per query."""
    rankings: dict[str, list[str]] = {}
    latencies = []
    for qid in tqdm(query_ids, desc=f"queries {label}".strip(), unit="q", disable=not progress):
        t0 = time.perf_counter()
        passages = retriever.retrieve(data.queries[qid], depth)
        latencies.append((time.perf_counter() - t0) * 1000)
        rankings[qid] = document_ranking(passages, stored_to_beir)
    return rankings, latencies


def evaluate(path: Path, base: Settings, fusions: Sequence[str], split: str = "test",
             limit: int | None = None, max_docs: int | None = None, depth: int = 100,
             seed: int = 0, progress: bool = False, command: str = ""
             ) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    """Index, run every fusion, score; returns metrics and the rankings per fusion."""
    data = load_beir(path, split)
    qids = select_queries(data, limit, seed)
    docs = select_documents(data, qids, max_docs, seed)
    rows: dict[str, Any] = {}
    runs: dict[str, dict[str, list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="qa-eval-beir-") as tmp:
        service = QAService(base.model_copy(update={"data_dir": Path(tmp)}))
        try:
            t0 = time.perf_counter()
            stored = index_documents(service, docs, progress)
            ingest_s = time.perf_counter() - t0
            passages = service.corpus.passage_count()
            for fusion in fusions:
                retriever = HybridRetriever(
                    service.corpus, service.settings.model_copy(update=ROW_SETTINGS[fusion]))
                rankings, latencies = run_queries(retriever, data, qids, stored, depth,
                                                  progress, fusion)
                rows[fusion] = {**retrieval_metrics(rankings, data.qrels),
                                "latency_ms": summarize_ms(latencies)}
                runs[fusion] = rankings
        finally:
            service.close()
    metrics = {
        "dataset": data.name, "path": str(path), "split": split, "queries": len(qids),
        "queries_in_split": len(select_queries(data, None)), "documents_indexed": len(docs),
        "documents_in_corpus": len(data.documents), "passages": passages,
        "ingest_s": round(ingest_s, 2), "depth_passages": depth, "seed": seed,
        "command": command, "rows": rows,
    }
    return metrics, runs


def cmd_beir(args: argparse.Namespace) -> int:
    base = get_settings().model_copy(update={"reader": "rules"})  # no reading here
    fusions = list(dict.fromkeys(args.fusion))
    command = "qa eval " + " ".join(shlex.quote(a) for a in args.argv)
    metrics, runs = evaluate(args.dir, base, fusions, args.split, args.limit, args.max_docs,
                             args.depth, args.seed, progress=not args.quiet, command=command)
    out: Path = args.out or Path("runs") / "eval" / f"beir-{Path(args.dir).name}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    (out / "rankings.json").write_text(json.dumps(runs), encoding="utf-8")
    (out / "report.md").write_text(beir_report(metrics), encoding="utf-8")
    smoke = metrics["documents_indexed"] < metrics["documents_in_corpus"]
    print(f"{metrics['dataset']}: {metrics['queries']} queries, {metrics['documents_indexed']} "
          f"documents, {metrics['passages']} passages" + (" (SMOKE: corpus cut down)" if smoke
                                                           else ""))
    print(f"{'fusion':14s} {'nDCG@10':>8s} {'R@10':>7s} {'R@100':>7s} {'MRR@10':>7s} "
          f"{'p50 ms':>7s}")
    for fusion, r in metrics["rows"].items():
        print(f"{fusion:14s} {r['ndcg@10']:8.4f} {r['recall@10']:7.4f} {r['recall@100']:7.4f} "
              f"{r['mrr@10']:7.4f} {r['latency_ms']['p50']:7.1f}")
    print(f"  wrote {out}/(metrics.json, rankings.json, report.md)")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `qa eval beir`."""
    p = subparsers.add_parser(
        "beir", help="BEIR-format retrieval set: nDCG@10, Recall@10/100, MRR@10",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    p.add_argument("--split", default="test", help="qrels file name (default test)")
    p.add_argument("--fusion", nargs="+", choices=FUSIONS, default=["rrf"],
                   help="one or more fusions; each gives a row (same index)")
    p.add_argument("--limit", type=int, default=None, help="evaluate N sampled queries")
    p.add_argument("--max-docs", type=int, default=None,
                   help="SMOKE RUNS ONLY: index the relevant documents plus sampled others, "
                        "N in all")
    p.add_argument("--depth", type=int, default=100, help="passages retrieved per query")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="default runs/eval/beir-<dir>")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_beir)
