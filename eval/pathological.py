"""`qa bench --pathological`: what one hostile document costs the questions asked after it.

In a fresh data dir, the service is warmed up and asked once (the idle server); then each
pathological document (a 20,000-word tag line, 100,000 repeats of one word, a 3 MB line without
punctuation) is ingested and questions are asked restricted to it and over everything. Reported
per document: ingest seconds, question latency p50 and max, and the process's peak RSS while
answering above the idle server's RSS (the peak is reset before the questions through
/proc/self/clear_refs, so ingest's own peak is not counted).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from qa.retriever import PassageFilter
from qa.service import QAService
from qa.settings import Settings
from qa.types import NewDocument

ARTICLE = ("The city council approved the new Harwick bridge on Monday after a long debate. The "
           "bridge will cost 45 million dollars, the mayor said, and work starts in the spring.")
QUESTIONS = ["How much will the bridge cost?", "When does work on the bridge start?",
             "Who approved the bridge?", "What did the mayor say?", "Where is the new bridge?"]


def pathological_documents() -> list[NewDocument]:
    return [
        NewDocument("Tag line", ARTICLE + "\nTags: " + ", ".join(f"word{i}" for i in range(20000))),
        NewDocument("One word", ARTICLE + "\n" + " ".join(["bridge"] * 100_000)),
        NewDocument("3 MB line", ARTICLE + "\n" + " ".join(f"w{i % 9973}x" for i in range(500_000))),
    ]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux)


def run_pathological(settings: Settings, questions: int = len(QUESTIONS)) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="qa-pathological-") as tmp:
        service = QAService(settings.model_copy(update={"data_dir": Path(tmp)}))
        service.warm_up()
        service.add_documents([NewDocument("Bridge", ARTICLE)])
        service.ask(QUESTIONS[0])
        idle_kb = _status_kb("VmRSS")
        rows = []
        for doc in pathological_documents():
            started = time.perf_counter()
            record = service.add_documents([doc])[0].document
            ingest_s = time.perf_counter() - started
            before_kb = _status_kb("VmRSS")
            _reset_peak()
            latencies = []
            for q in QUESTIONS[:questions]:
                for where in (None, PassageFilter(document_ids=[record.id])):
                    t = time.perf_counter()
                    service.ask(q, where=where)
                    latencies.append((time.perf_counter() - t) * 1000)
            peak_kb = _status_kb("VmHWM")
            rows.append({
                "document": doc.title, "characters": len(doc.text),
                "passages": record.passage_count, "ingest_s": round(ingest_s, 1),
                "questions": len(latencies),
                "ask_ms_p50": round(statistics.median(latencies), 1),
                "ask_ms_max": round(max(latencies), 1),
                "peak_mb_above_idle": round((peak_kb - idle_kb) / 1024, 1),
                "peak_mb_above_before_questions": round((peak_kb - before_kb) / 1024, 1),
            })
        service.corpus.close()
        return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = ("| document | chars | passages | ingest s | questions | ask p50 ms | ask max ms | "
            "peak MB above idle | above pre-question RSS |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['document']} | {r['characters']:,} | {r['passages']} | {r['ingest_s']} | "
             f"{r['questions']} | {r['ask_ms_p50']} | {r['ask_ms_max']} | {r['peak_mb_above_idle']} | "
             f"{r['peak_mb_above_before_questions']} |" for r in rows]
    return "\n".join([head, *lines])
