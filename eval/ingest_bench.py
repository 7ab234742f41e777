"""`qa bench --ingest`: how fast `qa ingest` indexes a day's news, whole process.

The SQuAD v1.1 dev paragraphs are written as one JSONL file and ingested by a fresh Python
process doing what `qa ingest` does (load the file, prepare, `Corpus.add` in batches of
`qa.cli.INGEST_BATCH`), timed by stage: imports, parse (qa.loaders), split (spaCy), encode,
store, plus peak memory. Then a second fresh process encodes, with plain sentence-transformers
(torch fp32, batch 32), the passage inputs the ingest embedded (the issue's reference: ingest
>= 1.5x as fast as that, whole process), then the sentence inputs it also embedded for the
re-scorers (so the encode of everything ingest embeds is reported too).
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
from qa.service import QAService
from qa.settings import get_settings
from qa.timing import StageTimer
t1 = time.perf_counter()
timer = StageTimer()
with timer.stage("parse"):
    docs = load_paths([Path(sys.argv[1])]).documents
service = QAService(get_settings())
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
passages, sentences = json.load(open(sys.argv[1]))
model.encode(passages, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
t2 = time.perf_counter()
model.encode(sentences, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
t3 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "passages_s": t2 - t1, "sentences_s": t3 - t2}))
"""


def squad_paragraphs(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    """The dev set's paragraphs as JSONL records (title, text), in file order."""
    from eval.bench import squad_workload

    return [{"title": d.title, "text": d.text} for d in squad_workload(path, 0, limit or None).documents]


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


def embedded_inputs(settings: Settings) -> tuple[list[str], list[str]]:
    """What the ingest embedded, read back from its store: each passage's input, and every
    distinct sentence input that is not also a passage input."""
    from qa.corpus import sentence_spans
    from qa.storage.documents import DocumentStore

    store = DocumentStore(settings.db_path)
    try:
        passages: list[str] = []
        sentences: dict[str, None] = {}
        for document in store.list_documents():
            records = store.document_passages(document.id)
            passages += [embedding_input(document.title, p.text, settings.embed_title)
                         for p in records]
            if settings.rescores:
                sentences.update((embedding_input(document.title, document.text[a:b],
                                                  settings.embed_title), None)
                                 for a, b in sentence_spans(records))
        distinct = set(passages)
        return passages, [s for s in sentences if s not in distinct]
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
        passages, sentences = embedded_inputs(settings)
        texts = Path(tmp) / "inputs.json"
        texts.write_text(json.dumps([passages, sentences]), encoding="utf-8")
        encode_wall, reference = _child(_ENCODE, texts, settings)
    stages = {k: round(v / 1000, 2) for k, v in child["stages_ms"].items()}
    # The reference: the same passages encoded by a process of their own (this one's
    # wall time less its sentence encode, which ran after them).
    passages_wall = encode_wall - reference["sentences_s"]
    return {
        "documents": child["documents"],
        "passages": len(passages),
        "sentence_inputs": len(sentences),
        "ingest_process_s": round(ingest_wall, 2),
        "ingest_import_s": round(child["import_s"], 2),
        "ingest_stages_s": stages,
        "documents_per_s": round(child["documents"] / ingest_wall, 1),
        "passages_per_s": round(len(passages) / ingest_wall, 1),
        "peak_rss_mb": round(child["peak_rss_kb"] / 1024, 1) if child["peak_rss_kb"] else None,
        "st_load_s": round(reference["load_s"], 2),
        "st_passages_process_s": round(passages_wall, 2),
        "st_passages_encode_s": round(reference["passages_s"], 2),
        "st_all_inputs_process_s": round(encode_wall, 2),
        "st_sentences_encode_s": round(reference["sentences_s"], 2),
        "speedup_vs_st_passages": round(passages_wall / ingest_wall, 2),
        "speedup_vs_st_all_inputs": round(encode_wall / ingest_wall, 2),
        "target_speedup": 1.5,
    }


def format_ingest(result: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result["ingest_stages_s"].items())
    return "\n".join([
        f"ingest of {result['documents']} documents: {result['passages']} passages and "
        f"{result['sentence_inputs']} further sentence inputs embedded",
        f"  whole process {result['ingest_process_s']:.2f} s: {result['documents_per_s']} "
        f"documents/s, {result['passages_per_s']} passages/s, peak RSS {result['peak_rss_mb']} MB",
        f"  imports {result['ingest_import_s']:.2f} s; stages (s): {stages}",
        "  plain sentence-transformers (torch fp32, batch 32), whole process: the same passages "
        f"{result['st_passages_process_s']:.2f} s (encode {result['st_passages_encode_s']:.2f} s, "
        f"model load {result['st_load_s']:.2f} s); passages and sentences "
        f"{result['st_all_inputs_process_s']:.2f} s",
        f"  ingest is {result['speedup_vs_st_passages']:.2f}x as fast as the passages' encode "
        f"(target >= {result['target_speedup']}x) and {result['speedup_vs_st_all_inputs']:.2f}x "
        "as fast as the encode of everything it embeds",
    ])
