"""`qa bench`: speed and memory of the service at several corpus sizes.

For each corpus (the sample article, the SQuAD v1.1 dev paragraphs, a synthetic corpus), in a
fresh data dir of its own:

* ingest throughput (passages/s) of `QAService.add_documents`, next to the raw encoder's
  throughput on exactly the same passage inputs, measured in the same run;
* ask latency p50/p95 over a fixed question list, with the per-stage breakdown of
  `Answer.timings_ms`;
* time until ready: `QAService(settings)` + `warm_up()` on the existing data dir, in this process
  (models already loaded) and, unless --no-cold-start, in a fresh Python process (imports and
  model loading included);
* RSS now and the process's peak RSS so far (sizes run small to large, so each peak includes the
  smaller ones).

Timing lives here, never in tests.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.report import stage_summary, summarize_ms
from qa.chat import open_chat
from qa.corpus import embedding_input
from qa.service import QAService
from qa.settings import Settings
from qa.types import NewDocument

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ARTICLE = ROOT / "sample" / "hamas-leader-met-iran-commander.txt"
SAMPLE_GOLD = ROOT / "eval" / "gold" / "sample-squad-v2.json"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
SIZES = ("sample", "squad", "synthetic")


@dataclass
class Workload:
    name: str
    documents: list[NewDocument]
    questions: list[str]


# --------------------------------------------------------------------------- workloads


def sample_workload(n_questions: int) -> Workload:
    """The sample article and the first questions of its gold file."""
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    gold = json.loads(SAMPLE_GOLD.read_text(encoding="utf-8"))
    article = gold["data"][0]
    questions = [qa["question"] for p in article["paragraphs"] for qa in p["qas"]]
    return Workload("sample", [NewDocument(title=article["title"], text=text)],
                    questions[:n_questions])


def squad_workload(path: Path, n_questions: int, paragraphs: int | None = None) -> Workload:
    """SQuAD paragraphs (all, or the first `paragraphs` in file order) as documents; questions
    are the first question of evenly spaced paragraphs."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    docs: list[NewDocument] = []
    firsts: list[str] = []
    for article in data["data"]:
        for par in article["paragraphs"]:
            docs.append(NewDocument(title=article["title"].replace("_", " "), text=par["context"]))
            firsts.append(par["qas"][0]["question"] if par["qas"] else "")
    if paragraphs is not None:
        docs, firsts = docs[:paragraphs], firsts[:paragraphs]
    step = max(1, len(docs) // max(1, n_questions))
    questions = [q for q in firsts[::step] if q.strip()][:n_questions]
    return Workload("squad", docs, questions)


def synthetic_vocabulary(size: int = 3000, seed: int = 7) -> list[str]:
    """A fixed vocabulary of pronounceable made-up words (same list on every machine)."""
    rng = random.Random(seed)
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    words: dict[str, None] = {}
    while len(words) < size:
        syllables = rng.randint(1, 3)
        words["".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))] = None
    return list(words)


def synthetic_workload(passages: int, n_questions: int, settings: Settings,
                       seed: int = 11) -> Workload:
    """About `passages` passages of random sentences over a fixed vocabulary.

    Each document has the number of sentences (one per line) that the splitter turns into two
    passages, so documents = passages / 2 (the count actually stored is measured, not assumed).
    """
    rng = random.Random(seed)
    vocab = synthetic_vocabulary()
    step = settings.sentences_per_passage - settings.passage_overlap
    per_doc = 2 * step + settings.passage_overlap
    docs = []
    for i in range(max(1, math.ceil(passages / 2))):
        lines = []
        for _ in range(per_doc):
            words = rng.choices(vocab, k=rng.randint(8, 16))
            lines.append(" ".join(words).capitalize() + ".")
        title = f"Report {i}: " + " ".join(rng.choices(vocab, k=3)).title()
        docs.append(NewDocument(title=title, text="\n".join(lines)))
    questions = []
    for _ in range(n_questions):
        a, b, c = rng.choices(vocab, k=3)
        questions.append(f"What did {a.title()} {b} say about {c}?")
    return Workload("synthetic", docs, questions)


# --------------------------------------------------------------------------- measuring


def rss_mb() -> float | None:
    """Resident memory of this process now (Linux /proc), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


# VmHWM, not ru_maxrss: Linux carries the parent's peak over fork + exec into ru_maxrss.
_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from qa.service import QAService
from qa.settings import Settings
t1 = time.perf_counter()
service = QAService(Settings.model_validate_json(sys.argv[1]))
service.warm_up()
t2 = time.perf_counter()
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(json.dumps({"import_s": t1 - t0, "ready_s": t2 - t1, "peak_rss_kb": hwm[0] if hwm else None}))
"""


def cold_start(settings: Settings) -> dict[str, float | None]:
    """Time until ready in a fresh Python process: wall time of the whole process (interpreter,
    imports, models, index), and the child's own import and QAService+warm_up times."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE, settings.model_dump_json()],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"process_s": round(wall, 2), "import_s": round(child["import_s"], 2),
            "ready_s": round(child["ready_s"], 2),
            "peak_rss_mb": round(child["peak_rss_kb"] / 1024, 1) if child["peak_rss_kb"] else None}


def bench_workload(workload: Workload, base: Settings, cold: bool = True,
                   progress: bool = False) -> dict[str, Any]:
    """Every measurement of one corpus size, in a fresh temporary data dir."""
    with tempfile.TemporaryDirectory(prefix=f"qa-bench-{workload.name}-") as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp)})
        service = QAService(settings)
        try:
            service.warm_up()
            t0 = time.perf_counter()
            service.add_documents(workload.documents, progress=progress)
            ingest_s = time.perf_counter() - t0
            ids = sorted(service.corpus.indexed_ids())
            records = service.corpus.passages(ids)
            with_title = service.settings.embed_title
            inputs = [embedding_input(records[i].title, records[i].text, with_title) for i in ids]
            t0 = time.perf_counter()
            service.corpus.encoder.encode(inputs, progress=progress)
            encode_s = time.perf_counter() - t0
            if workload.questions:
                service.ask(workload.questions[0])  # untimed: first-call effects
            paired = paired_pass(service, workload.questions)
            reader = service.reader_name
        finally:
            service.close()
        t0 = time.perf_counter()
        again = QAService(settings)
        again.warm_up()
        ready_warm_s = time.perf_counter() - t0
        again.close()
        ready_cold = cold_start(settings) if cold else None
    n = len(ids)
    return {
        "name": workload.name,
        "documents": len(workload.documents),
        "passages": n,
        "reader": reader,
        "ingest_s": round(ingest_s, 3),
        "ingest_passages_per_s": round(n / ingest_s, 1) if ingest_s else None,
        "encoder_s": round(encode_s, 3),
        "encoder_passages_per_s": round(n / encode_s, 1) if encode_s else None,
        "questions": len(workload.questions),
        "ask_ms": {"total": summarize_ms(paired.plain_ms),
                   "stages": stage_summary(paired.plain_timings)},
        "chat_ask_ms": summarize_ms(paired.chat_ms),
        "chat_overhead_p50_ms": round(float(np.median(np.subtract(paired.chat_ms,
                                                                  paired.plain_ms))), 2)
        if paired.plain_ms else None,
        "chat_analysis_ms": summarize_ms(paired.analysis_ms),
        "ready_warm_s": round(ready_warm_s, 3),
        "ready_cold": ready_cold,
        "rss_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }


@dataclass
class PairedTimes:
    plain_ms: list[float] = field(default_factory=list)
    plain_timings: list[dict[str, float]] = field(default_factory=list)
    chat_ms: list[float] = field(default_factory=list)
    analysis_ms: list[float] = field(default_factory=list)


def paired_pass(service: QAService, questions: Sequence[str]) -> PairedTimes:
    """Each question asked twice, alone and as the next turn of one conversation (history
    load, follow-up resolution, turn storage), in alternating order so that drift and caches
    fall on both sides; the chat overhead is the median of the per-question differences.

    The analysis of earlier turns that a follow-up needed (the resolver's parse of a turn, done
    the first time a question needs it and kept with the turn; part of the request and so of
    the overhead) is also reported on its own, for the turns that did it."""
    chat = open_chat(service)
    times = PairedTimes()
    conversation_id: str | None = None

    def plain(q: str) -> None:
        t0 = time.perf_counter()
        answer = service.ask(q)
        times.plain_ms.append((time.perf_counter() - t0) * 1000)
        times.plain_timings.append(answer.timings_ms)

    def in_chat(q: str) -> None:
        nonlocal conversation_id
        t0 = time.perf_counter()
        answer = chat.ask(q, conversation_id)
        times.chat_ms.append((time.perf_counter() - t0) * 1000)
        conversation_id = answer.conversation_id
        if "analysis" in answer.timings_ms:
            times.analysis_ms.append(answer.timings_ms["analysis"])

    try:
        for i, q in enumerate(questions):
            first, second = (plain, in_chat) if i % 2 == 0 else (in_chat, plain)
            first(q)
            second(q)
    finally:
        chat.close()
    return times


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "torch_threads": _torch_threads()}


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        return None


def run_bench(workloads: Sequence[Workload], base: Settings, cold: bool = True,
              progress: bool = False, command: str = "") -> dict[str, Any]:
    sizes = []
    for w in workloads:
        log.info("bench %s: %d documents, %d questions", w.name, len(w.documents),
                 len(w.questions))
        sizes.append(bench_workload(w, base, cold, progress))
    return {
        "command": command,
        "machine": machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v
                     for k, v in base.model_dump().items() if k not in ("api_key", "data_dir")},
        "sizes": sizes,
    }


def format_table(result: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    head = (f"{'corpus':10s} {'docs':>6s} {'passages':>8s} {'ingest/s':>9s} {'encoder/s':>9s} "
            f"{'ask p50':>8s} {'ask p95':>8s} {'retr p50':>8s} {'read p50':>8s} "
            f"{'chat +ms':>8s} {'anl ms':>6s} {'ready s':>8s} {'cold s':>7s} {'peak MB':>8s}")
    lines = [head, "-" * len(head)]
    for s in result["sizes"]:
        stages = s["ask_ms"]["stages"]
        cold = s["ready_cold"]["process_s"] if s["ready_cold"] else None
        lines.append(
            f"{s['name']:10s} {s['documents']:6d} {s['passages']:8d} "
            f"{_n(s['ingest_passages_per_s']):>9s} {_n(s['encoder_passages_per_s']):>9s} "
            f"{_n(s['ask_ms']['total']['p50']):>8s} {_n(s['ask_ms']['total']['p95']):>8s} "
            f"{_n(stages.get('retrieve', {}).get('p50')):>8s} "
            f"{_n(stages.get('read', {}).get('p50')):>8s} "
            f"{_n(s.get('chat_overhead_p50_ms')):>8s} "
            f"{_n(s['chat_analysis_ms']['p50']):>6s} "
            f"{_n(s['ready_warm_s'], 2):>8s} {_n(cold, 1):>7s} {_n(s['peak_rss_mb']):>8s}")
    lines.append("ms for ask/retrieve/read; chat +ms = median over questions of (asked as the "
                 "next turn of one conversation - asked alone); anl ms = p50 of the analysis of "
                 "earlier turns a follow-up needed, a part of chat +ms; ready s = QAService + "
                 "warm_up on the stored data in this process; cold s = the same in a fresh "
                 "process")
    return "\n".join(lines)


def _n(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
