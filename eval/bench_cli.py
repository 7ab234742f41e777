"""`qa bench`: ingest throughput, ask latency, time until ready and memory at several corpus
sizes (see eval/bench.py). Prints a table and writes JSON."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from eval.bench import (
    DEFAULT_SQUAD,
    SIZES,
    Workload,
    format_table,
    run_bench,
    sample_workload,
    squad_workload,
    synthetic_workload,
)
from qa.settings import get_settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa bench", description=__doc__)
    p.add_argument("--sizes", default=",".join(SIZES),
                   help="comma-separated corpora, run in this order (default: all)")
    p.add_argument("--squad", type=Path, default=DEFAULT_SQUAD,
                   help="SQuAD v1.1 dev file for the 'squad' corpus (skipped when missing)")
    p.add_argument("--squad-paragraphs", type=int, default=None,
                   help="use only the first N paragraphs (smoke runs)")
    p.add_argument("--synthetic-passages", type=int, default=20_000,
                   help="size of the synthetic corpus in passages")
    p.add_argument("--questions", type=int, default=20, help="timed questions per corpus")
    p.add_argument("--reader", choices=["neural", "rules"], default="neural")
    p.add_argument("--no-cold-start", action="store_true",
                   help="skip the fresh-process time-until-ready measurement")
    p.add_argument("--ann", type=int, default=0, metavar="N",
                   help="also build the product's index over N synthetic vectors and report "
                        "approximate-vs-exact recall@10 and search latency (e.g. 1000000)")
    p.add_argument("--ann-nprobe", type=int, default=64, help="IVF lists probed per query")
    p.add_argument("--pathological", action="store_true",
                   help="only the hostile-documents drill: question latency and peak memory "
                        "after each pathological document (eval/pathological.py)")
    p.add_argument("--ingest", action="store_true",
                   help="only the ingest benchmark: `qa ingest` of the SQuAD dev paragraphs in a "
                        "fresh process (documents/s, passages/s, time per stage, peak memory) "
                        "against a plain sentence-transformers encode of the same inputs "
                        "(eval/ingest_bench.py)")
    p.add_argument("--concurrency", default=None, metavar="N,M,...",
                   help="only the concurrency drill: questions/s of a loopback server asked by "
                        "N, then M, ... concurrent clients (e.g. 1,32; eval/concurrency.py)")
    p.add_argument("--chat", action="store_true",
                   help="only what POST /v1/chat/completions costs over POST /v1/ask for the "
                        "same question (eval/chat_bench.py; --rounds pairs)")
    p.add_argument("--backend", action="store_true",
                   help="only the passage index backends (faiss, milvus): ingest passages/s, "
                        "time to reopen, dense / lexical / date-filtered search p50 and p95 at "
                        "--backend-sizes passages (every sentence of SQuAD train + dev, synthetic "
                        "vectors; eval/backend_bench.py)")
    p.add_argument("--backend-sizes", default="10000,100000", metavar="N,M,...",
                   help="--backend: passage counts (e.g. 10000,100000,1000000)")
    p.add_argument("--backends", default="faiss,milvus",
                   help="--backend: which backends (milvus: QA_MILVUS_URI, default Milvus Lite "
                        "in a temporary folder)")
    p.add_argument("--searches", type=int, default=200, help="--backend: timed searches of each kind")
    p.add_argument("--rounds", type=int, default=50, help="--chat: timed pairs")
    p.add_argument("--seconds", type=float, default=20.0,
                   help="--concurrency: seconds of asking per level")
    p.add_argument("--threads", type=int, default=None,
                   help="--concurrency: QA_TORCH_THREADS for the server (default: all cores)")
    p.add_argument("--out", type=Path, default=Path("runs/bench/bench.json"), help="JSON output")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def write_json(out: Path, result: dict) -> int:
    """Write a benchmark's JSON result and say where; the exit code."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def main(argv: list[str]) -> int:
    """Run `qa bench ARGV...`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    base = get_settings().model_copy(update={"reader": args.reader})
    if args.pathological:
        from eval.pathological import format_rows, run_pathological

        rows = run_pathological(base)
        print(format_rows(rows))
        return write_json(args.out, {"pathological": rows})
    if args.chat:
        import tempfile

        from eval.chat_bench import measure
        from eval.drill import served

        with tempfile.TemporaryDirectory(prefix="qa-chat-bench-") as data_dir, \
                served(Path(data_dir)) as (url, _pid):
            chat = measure(url, "where did they meet?", args.rounds)
        print(json.dumps(chat, indent=1, ensure_ascii=False))
        return write_json(args.out, {"chat": chat})
    if args.ingest:
        from eval.ingest_bench import format_ingest, run_ingest_bench

        if not args.squad.exists():
            print(f"skipping the ingest benchmark: {args.squad} not found", file=sys.stderr)
            return 0
        ingest = run_ingest_bench(args.squad, base, args.squad_paragraphs)
        ingest["command"] = "qa bench " + " ".join(shlex.quote(a) for a in argv)
        print(format_ingest(ingest))
        return write_json(args.out, {"ingest": ingest})
    if args.backend:
        from eval.backend_bench import format_backend_rows, run_backend_bench

        files = [args.squad.with_name("train-v1.1.json"), args.squad]
        if missing := [str(f) for f in files if not f.exists()]:
            print(f"error: --backend needs {', '.join(missing)}", file=sys.stderr)
            return 2
        sizes = [int(n) for n in args.backend_sizes.split(",") if n.strip()]
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        rows = run_backend_bench(base, files, sizes, backends, args.searches,
                                 progress=not args.quiet)
        print(format_backend_rows(rows))
        return write_json(args.out, {"backend": rows, "command": "qa bench " + " ".join(
            shlex.quote(a) for a in argv), "vectors": "synthetic (clustered unit vectors)"})
    if args.concurrency:
        from eval.concurrency import format_rows as format_levels
        from eval.concurrency import run_concurrency

        levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
        if not levels or min(levels) < 1:
            print("error: --concurrency takes client counts >= 1, e.g. 1,32", file=sys.stderr)
            return 2
        rows = run_concurrency(levels, args.seconds, threads=args.threads)
        print(format_levels(rows))
        return write_json(args.out, {"concurrency": rows})
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(f"error: unknown sizes {unknown}; choose from {list(SIZES)}", file=sys.stderr)
        return 2
    workloads: list[Workload] = []
    for size in sizes:
        if size == "sample":
            workloads.append(sample_workload(args.questions))
        elif size == "squad":
            if not args.squad.exists():
                print(f"skipping 'squad': {args.squad} not found", file=sys.stderr)
                continue
            workloads.append(squad_workload(args.squad, args.questions, args.squad_paragraphs))
        else:
            workloads.append(synthetic_workload(args.synthetic_passages, args.questions, base))
    command = "qa bench " + " ".join(shlex.quote(a) for a in argv)
    result = run_bench(workloads, base, cold=not args.no_cold_start, progress=not args.quiet,
                       command=command)
    print(format_table(result))
    if args.ann:
        from eval.ann import run_ann_benchmark

        ann = run_ann_benchmark(n=args.ann, nprobe=args.ann_nprobe)
        result["ann"] = ann
        print("approximate search on synthetic vectors: " +
              ", ".join(f"{k}={v}" for k, v in ann.items()))
    return write_json(args.out, result)
