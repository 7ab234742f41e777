"""`qa bench --ingest`: how fast `qa ingest` indexes a day's news, whole process.

The SQuAD v1.1 dev paragraphs are written as one JSONL file and ingested by a fresh Python
process doing what `qa ingest` does (load the file, prepare, `Corpus.add` in batches of
`qa.cli.INGEST_BATCH`), timed by stage: imports, parse (qa.loaders), split (spaCy), encode,
store, plus peak memory. Then a second fresh process encodes exactly the texts that ingest
embedded (every distinct passage and sentence input) with plain sentence-transformers (torch
fp32, batch 32): the reference the issue sets (ingest >= 1.5x as fast, whole process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.corpus import embedding_input
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

_INGEST = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from qa.cli import INGEST_BATCH
from qa.loaders import load_paths
from qa.service import get_service
from qa.timing import StageTimer
t1 = time.perf_counter()
timer = StageTimer()
with timer.stage("parse"):
    docs = load_paths([Path(sys.argv[1])]).documents
service = get_service()
with timer.stage("load_models"):
    service.corpus.open()
    service.corpus.encoder.dimension
    from embeddings.nlp import load_spacy
    load_spacy()
with timer.stage("prepare"):
    docs = [d for d in service.corpus.prepare_each(docs) if not isinstance(d, Exception)]
for start in range(0, len(docs), INGEST_BATCH):
    service.corpus.add(docs[start : start + INGEST_BATCH], timer=timer)
t2 = time.perf_counter()
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"import_s": t1 - t0, "work_s": t2 - t1, "stages_ms": timer.ms,
                  "documents": len(docs), "peak_rss_kb": hwm[0] if hwm else None}))
"""

_ENCODE = """
import json, sys, time
t0 = time.perf_counter()
from sentence_transformers import SentenceTransformer
from embeddings.encoder import default_model_path
model = SentenceTransformer(default_model_path(), device="cpu")
t1 = time.perf_counter()
texts = json.load(open(sys.argv[1]))
model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "encode_s": t2 - t1}))
"""


def squad_paragraphs(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    """The dev set's paragraphs as JSONL records (title, text), in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    records = [{"title": article["title"].replace("_", " "), "text": par["context"]}
               for article in data["data"] for par in article["paragraphs"]]
    return records[:limit] if limit else records


def _child(script: str, argument: Path, settings: Settings) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "QA_DATA_DIR": str(settings.data_dir), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, str(argument)], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def embedded_inputs(settings: Settings) -> tuple[list[str], int]:
    """Every distinct input the ingest embedded (passages and sentences), and the passage
    count, read back from its store."""
    from embeddings.store import DocumentStore
    from qa.corpus import sentence_spans

    store = DocumentStore(settings.db_path)
    try:
        inputs: dict[str, None] = {}
        passages = 0
        for document in store.list_documents():
            records = store.document_passages(document.id)
            passages += len(records)
            for p in records:
                inputs[embedding_input(document.title, p.text, settings.embed_title)] = None
            if settings.rescores:
                for a, b in sentence_spans(records):
                    inputs[embedding_input(document.title, document.text[a:b],
                                           settings.embed_title)] = None
        return list(inputs), passages
    finally:
        store.close()


def run_ingest_bench(squad: Path, base: Settings, limit: int | None = None) -> dict[str, Any]:
    """Ingest the SQuAD dev paragraphs in a fresh process, then encode the same inputs with
    plain sentence-transformers in another; both whole-process wall times."""
    from embeddings.encoder import shared_encoder

    # The ONNX export is made once per machine and cached: not part of an ingest.
    shared_encoder(base.encoder_path, base.encoder_batch_size, base.encoder_runtime,
                   base.model_cache_dir, base.torch_threads).encode(["warm up"])
    with tempfile.TemporaryDirectory(prefix="qa-bench-ingest-") as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp) / "data"})
        records = squad_paragraphs(squad, limit)
        source = Path(tmp) / "squad-dev-paragraphs.jsonl"
        source.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
        ingest_wall, child = _child(_INGEST, source, settings)
        inputs, passages = embedded_inputs(settings)
        texts = Path(tmp) / "inputs.json"
        texts.write_text(json.dumps(inputs), encoding="utf-8")
        encode_wall, reference = _child(_ENCODE, texts, settings)
    stages = {k: round(v / 1000, 2) for k, v in child["stages_ms"].items()}
    return {
        "documents": child["documents"],
        "passages": passages,
        "embedded_inputs": len(inputs),
        "ingest_process_s": round(ingest_wall, 2),
        "ingest_import_s": round(child["import_s"], 2),
        "ingest_stages_s": stages,
        "documents_per_s": round(child["documents"] / ingest_wall, 1),
        "passages_per_s": round(passages / ingest_wall, 1),
        "peak_rss_mb": round(child["peak_rss_kb"] / 1024, 1) if child["peak_rss_kb"] else None,
        "st_encode_process_s": round(encode_wall, 2),
        "st_encode_only_s": round(reference["encode_s"], 2),
        "speedup_vs_st_encode": round(encode_wall / ingest_wall, 2),
        "target_speedup": 1.5,
    }


def format_ingest(result: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result["ingest_stages_s"].items())
    return "\n".join([
        f"ingest of {result['documents']} documents ({result['passages']} passages, "
        f"{result['embedded_inputs']} distinct passage and sentence inputs embedded)",
        f"  whole process {result['ingest_process_s']:.2f} s: {result['documents_per_s']} "
        f"documents/s, {result['passages_per_s']} passages/s, peak RSS {result['peak_rss_mb']} MB",
        f"  imports {result['ingest_import_s']:.2f} s; stages (s): {stages}",
        f"  plain sentence-transformers encode of the same inputs (torch fp32, batch 32), whole "
        f"process: {result['st_encode_process_s']:.2f} s (encode alone "
        f"{result['st_encode_only_s']:.2f} s)",
        f"  ingest is {result['speedup_vs_st_encode']:.2f}x as fast as that encode (target "
        f">= {result['target_speedup']}x)",
    ])
