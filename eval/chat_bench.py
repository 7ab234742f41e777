"""What POST /v1/chat/completions costs over POST /v1/ask for the same question.

A `qa serve` process on a loopback port over a fresh data dir with the sample article; the two
routes are asked the same question in alternation (so both see the same machine load), each
request timed by the client, after a warm-up. Prints the p50 of each and the p50 of the paired
differences (chat minus ask). /v1/ask stores each question as a conversation turn; the chat
route stores nothing but renders the content, its annotations and the OpenAI envelope.

    qa bench --chat [--rounds 50]   (or .venv/bin/python -m eval.chat_bench [--question Q])
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from eval.drill import served


def _timed(http: httpx.Client, path: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = http.post(path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, dict(response.json())


def measure(base: str, question: str, rounds: int, warm_up: int = 3) -> dict[str, Any]:
    ask_body: dict[str, Any] = {"question": question}
    chat_body: dict[str, Any] = {"model": "pressroom", "messages": [{"role": "user", "content": question}]}
    ask_ms: list[float] = []
    chat_ms: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for i in range(warm_up + rounds):
            # Alternate which goes first, so neither always follows the other.
            order: list[tuple[str, dict[str, Any]]] = [("ask", ask_body), ("chat", chat_body)]
            if i % 2:
                order.reverse()
            for name, body in order:
                path = "/v1/ask" if name == "ask" else "/v1/chat/completions"
                elapsed, data = _timed(http, path, body)
                if i >= warm_up:
                    (ask_ms if name == "ask" else chat_ms).append(elapsed)
                if name == "chat":
                    answer = data["choices"][0]["message"]["content"].split(" [1]")[0]
                else:
                    answer = data["answer"]
    differences = [c - a for a, c in zip(ask_ms, chat_ms, strict=True)]
    return {"question": question, "rounds": rounds, "last_answer": answer,
            "ask_p50_ms": round(statistics.median(ask_ms), 2),
            "chat_p50_ms": round(statistics.median(chat_ms), 2),
            "overhead_p50_ms": round(statistics.median(differences), 2),
            "overhead_of_p50s_ms": round(statistics.median(chat_ms) - statistics.median(ask_ms), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa bench --chat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50, help="timed pairs (after 3 warm-up)")
    parser.add_argument("--question", default="where did they meet?")
    parser.add_argument("--server", metavar="URL", default=None,
                        help="measure a running qa serve instead of starting one")
    args = parser.parse_args(argv)
    if args.server:
        result = measure(args.server.rstrip("/"), args.question, args.rounds)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-chat-bench-") as data_dir, \
                served(Path(data_dir)) as (base, _pid):
            result = measure(base, args.question, args.rounds)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
