"""`qa drill`: the durability and load drills that stay with the project.

* `crash`: writer processes add and delete documents in one data dir and print an
  acknowledgement after each call returns; each is killed with SIGKILL at a random moment, then
  restarted. At the end every acknowledged add must be present (unless acknowledged deleted
  later), every acknowledged delete gone, and the FAISS index must hold exactly the store's
  passages once a fresh process opens it.
* `load`: a real server (uvicorn, loopback) answers questions from several client threads while
  one client adds and deletes; counts errors, prints latency p50/p95 and throughput, and checks
  the server's store and index agree afterwards (`/healthz`).

The short forms run in the test suite; `--long` is the form the hardening issue names
(more writers and kills; 32 clients for 60 s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# One writer process: adds (and sometimes deletes) small documents forever, printing
# "ADD <id>" / "DEL <id>" only after the call has returned (the acknowledgement), and
# "DELETING <id>" before a delete (a kill then may or may not have deleted it).
WRITER = r"""
import random, sys
from qa.corpus import Corpus
from qa.settings import Settings
from qa.types import NewDocument

def say(line):  # one write, so a kill cannot cut a line even with PYTHONUNBUFFERED set
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


seed, name = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)
corpus = Corpus(Settings())
corpus.open()
corpus.encoder.encode(["warm up"])  # killed while writing, not while loading models
say("READY")
mine = []
for i in range(10**6):
    if mine and rng.random() < 0.25:
        doc_id = mine.pop(rng.randrange(len(mine)))
        say("DELETING " + doc_id)  # may complete unacknowledged if killed now
        if corpus.delete(doc_id):
            say("DEL " + doc_id)
        continue
    words = " ".join(rng.choice(["harbour", "council", "ferry", "strike", "budget", "storm",
                                 "bridge", "election", "court", "school"]) for _ in range(40))
    text = f"Report {name}-{seed}-{i}. The {words}. Officials said the {words[:60]} continued."
    result = corpus.add([NewDocument(f"{name} {seed} {i}", text)])[0]
    mine.append(result.document.id)
    say("ADD " + result.document.id)
"""


@dataclass
class CrashReport:
    kills: int = 0
    acknowledged_adds: int = 0
    acknowledged_deletes: int = 0
    missing: list[str] = field(default_factory=list)
    resurrected: list[str] = field(default_factory=list)
    index_matches_store: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.resurrected and self.index_matches_store


def _collect(proc: subprocess.Popen[str], into: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append(line.strip())


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "QA_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "QA_TORCH_THREADS": "1"}


def run_crash_drill(data_dir: Path, writers: int = 2, rounds: int = 2, seed: int = 0,
                    min_run_s: float = 0.0, max_run_s: float = 3.0) -> CrashReport:
    """`rounds` x `writers` writer processes, each SIGKILLed a random time after its first
    acknowledged add; then the verification (in this process, a fresh Corpus)."""
    rng = random.Random(seed)
    report = CrashReport()
    state: dict[str, str] = {}  # document id -> "added" / "deleted", by acknowledgement order
    for round_ in range(rounds):
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(seed * 1000 + round_ * 10 + w),
                                   f"w{w}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, env=_env(data_dir), cwd=ROOT) for w in range(writers)]
        lines: list[list[str]] = [[] for _ in procs]

        readers = [threading.Thread(target=_collect, args=(p, lines[i]), daemon=True)
                   for i, p in enumerate(procs)]
        for t in readers:
            t.start()
        # Each writer acknowledges a first add, then runs a random while longer: the kill lands
        # at a random point of a write whatever the machine's speed.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(
                any(x.startswith("ADD") for x in ls) for ls in lines):
            time.sleep(0.1)
        time.sleep(rng.uniform(min_run_s, max_run_s))
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            report.kills += 1
        for t in readers:
            t.join(timeout=10)
        # Interleave by process: one writer's acknowledgements are in order, and no two
        # writers touch the same document (their texts differ).
        for ls in lines:
            for line in ls:
                kind, _, doc_id = line.partition(" ")
                if kind == "ADD":
                    state[doc_id] = "added"
                    report.acknowledged_adds += 1
                elif kind == "DELETING":
                    state[doc_id] = "deleting"  # either outcome is right
                elif kind == "DEL":
                    state[doc_id] = "deleted"
                    report.acknowledged_deletes += 1
    from qa.corpus import Corpus
    from qa.settings import Settings

    corpus = Corpus(Settings(data_dir=data_dir))
    stored = set(corpus.document_ids())
    report.missing = sorted(d for d, s in state.items() if s == "added" and d not in stored)
    report.resurrected = sorted(d for d, s in state.items() if s == "deleted" and d in stored)
    corpus.open()
    report.index_matches_store = corpus.indexed_ids() == corpus.embedded_passage_ids()
    corpus.close()
    return report


# load ----------------------------------------------------------------------------------------
QUESTIONS = ["where did they meet?", "Who did Khaled Mashaal meet?", "Who reported the meeting?",
             "What did Tehran reject?", "How large is the Quds Force?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict[str, Any] | None = None, method: str = "POST",
             timeout: float = 60) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


@contextlib.contextmanager
def served(data_dir: Path, sample: Path = ROOT / "sample",
           env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """A `qa serve` process on a free loopback port over `data_dir` (with `sample` ingested
    first), ready to answer; yields its base URL and process id, and stops it afterwards. By
    default it uses every core, like a `qa serve` a user starts."""
    if env is None:
        env = _env(data_dir)
        env.pop("QA_TORCH_THREADS")
    subprocess.run([sys.executable, "-m", "qa.cli", "ingest", str(sample)], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if _request(base + "/healthz", method="GET", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the server did not start")
        yield base, server.pid
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def ask_for(base: str, clients: int, seconds: float, writer: bool = False) -> dict[str, Any]:
    """Ask the server at `base` from `clients` threads, each one question after another, for
    `seconds` while (when `writer`) one more thread adds and deletes documents."""
    latencies: list[float] = []
    errors: list[str] = []
    writes = {"added": 0, "deleted": 0}
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def ask(n: int) -> None:
        i = n
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status, _ = _request(base + "/v1/ask", {"question": QUESTIONS[i % len(QUESTIONS)]})
            except OSError as exc:
                status = str(exc)  # type: ignore[assignment]
            with lock:
                if status == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors.append(f"ask: {status}")
            i += 1

    def write() -> None:
        i = 0
        while time.monotonic() < stop:
            status, body = _request(base + "/v1/documents", {
                "title": f"Load {i}", "text": f"Drill report {i}: the harbour reopened on day {i}."})
            if status != 201:
                errors.append(f"add: {status}")
                continue
            writes["added"] += 1
            if i % 2:
                gone, _ = _request(f"{base}/v1/documents/{body['id']}", method="DELETE")
                if gone != 204:
                    errors.append(f"delete: {gone}")
                else:
                    writes["deleted"] += 1
            i += 1

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(clients)]
    if writer:
        threads.append(threading.Thread(target=write))
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {
        "clients": clients, "writer": writer,
        "seconds": round(elapsed, 1), "questions": len(latencies),
        "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
        "questions_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(statistics.quantiles(latencies, n=20)[-1], 1) if len(latencies) > 1 else None,
        **(writes if writer else {}),
    }


def run_load_drill(data_dir: Path, clients: int = 4, seconds: float = 10.0,
                   sample: Path = ROOT / "sample", writer: bool = True) -> dict[str, Any]:
    """Serve `data_dir` (the sample article ingested first) on loopback and ask from `clients`
    threads for `seconds` while (when `writer`) one thread adds and deletes documents."""
    with served(data_dir, sample) as (base, _pid):
        result = ask_for(base, clients, seconds, writer)
        status, health = _request(base + "/healthz", method="GET")
    return {**result,
            "consistent": status == 200 and health["passages"] == health["indexed_passages"]}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="qa drill", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drill", choices=["crash", "load"])
    ap.add_argument("--long", action="store_true",
                    help="the full form: crash 4 writers x 3 rounds; load 32 clients x 60 s")
    ap.add_argument("--data-dir", type=Path, default=None, help="default: a temporary folder")
    ap.add_argument("--clients", type=int, default=None, help="load: asking clients (4; 32 long)")
    ap.add_argument("--seconds", type=float, default=None, help="load: duration (10; 60 long)")
    ap.add_argument("--no-writer", action="store_true", help="load: questions only")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qa-drill-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        if args.drill == "crash":
            report = run_crash_drill(data_dir, writers=4 if args.long else 2,
                                     rounds=3 if args.long else 2)
            print(json.dumps({**report.__dict__, "ok": report.ok}, indent=1))
            return 0 if report.ok else 1
        result = run_load_drill(data_dir, clients=args.clients or (32 if args.long else 4),
                                seconds=args.seconds or (60 if args.long else 10),
                                writer=not args.no_writer)
        print(json.dumps(result, indent=1))
        return 0 if result["errors"] == 0 and result["consistent"] else 1
