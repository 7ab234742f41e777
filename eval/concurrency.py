"""`qa bench --concurrency`: questions per second from 1 to N concurrent clients.

A real server (`qa serve` on loopback over the sample article) is asked by client threads, each
asking one question after another, for a fixed time per level; every level reports throughput,
p50/p95 latency, its throughput against the first level's, and how many cores the server
process and the clients (this process) used on average (from their CPU time), so a shortfall
can be told apart from clients starving the server.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.drill import ROOT, _env, ask_for, served


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_concurrency(levels: list[int], seconds: float = 20.0, warmup_seconds: float = 3.0,
                    threads: int | None = None, sample: Path = ROOT / "sample"
                    ) -> list[dict[str, Any]]:
    """One row per level of concurrent clients, asked in the order given."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qa-concurrency-") as tmp:
        env = _env(Path(tmp))
        env.pop("QA_TORCH_THREADS")
        if threads:
            env["QA_TORCH_THREADS"] = str(threads)
        with served(Path(tmp), sample, env) as (base, pid):
            ask_for(base, 1, warmup_seconds)  # first-question costs out of the timings
            for clients in levels:
                server_cpu, client_cpu = process_cpu_seconds(pid), time.process_time()
                row = ask_for(base, clients, seconds)
                elapsed = row["seconds"]
                row["server_cores"] = round((process_cpu_seconds(pid) - server_cpu) / elapsed, 2)
                row["client_cores"] = round((time.process_time() - client_cpu) / elapsed, 2)
                first = rows[0]["questions_per_s"] if rows else row["questions_per_s"]
                row["vs_first"] = round(row["questions_per_s"] / first, 2) if first else None
                rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = ["| clients | questions | errors | questions/s | vs first | p50 ms | p95 ms | "
             "server cores | client cores |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clients']} | {r['questions']} | {r['errors']} | "
                     f"{r['questions_per_s']} | {r['vs_first']}x | {r['p50_ms']} | {r['p95_ms']} | "
                     f"{r['server_cores']} | {r['client_cores']} |")
    return "\n".join(lines)
