"""Concurrent questions share the cores: ONNX runs pick their threads by whether they are alone
(a question alone spreads its windows over the cores), at most `cores` runs and `cores + 1`
questions go at once, a window's reading does not depend on
what is read beside it, and `qa bench --concurrency` measures it all on a real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings.onnx_session import CoreSharingSession
from qa.reader import DEFAULT_READER_DIR, NeuralReader
from qa.service import QAService
from qa.settings import Settings


class SlowSession:
    """Stands in for an ONNX session to see which one ran and how many ran at once."""

    def __init__(self, name: str, log: list[str], in_flight: list[int], peak: list[int]):
        self.name, self.log, self.in_flight, self.peak = name, log, in_flight, peak
        self.lock = threading.Lock()

    def run(self, _names: Any, _feed: Any) -> list[str]:
        with self.lock:
            self.in_flight[0] += 1
            self.peak[0] = max(self.peak[0], self.in_flight[0])
        time.sleep(0.05)
        with self.lock:
            self.in_flight[0] -= 1
        self.log.append(self.name)
        return [self.name]


def sharing_session(cores: int) -> tuple[CoreSharingSession, list[str], list[int]]:
    session = CoreSharingSession(DEFAULT_READER_DIR / "model.onnx", threads=cores)
    log: list[str] = []
    in_flight, peak = [0], [0]
    shared = SlowSession("", log, in_flight, peak)
    session.wide = SlowSession("wide", log, in_flight, peak)
    session.narrow = SlowSession("narrow", log, in_flight, peak)
    session.wide.lock = session.narrow.lock = shared.lock
    return session, log, peak


def test_a_run_alone_gets_every_core_and_concurrent_runs_one_each() -> None:
    session, log, peak = sharing_session(cores=2)
    assert session.run(None, {}) == ["wide"]
    assert session.run(None, {}) == ["wide"]
    threads = [threading.Thread(target=session.run, args=(None, {})) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log) == 10
    assert log[2:].count("narrow") >= 6  # at most the first of the burst finds nobody else
    assert peak[0] == 2  # never more runs than cores


def test_a_questions_windows_alone_run_side_by_side_on_one_core_each() -> None:
    session, log, peak = sharing_session(cores=2)
    assert session.run_each(None, [{}] * 4) == [["narrow"]] * 4
    assert peak[0] == 2  # two at a time (not one after another), on the one-core session


def test_one_core_means_one_session_taking_turns() -> None:
    session = CoreSharingSession(DEFAULT_READER_DIR / "model.onnx", threads=1)
    assert session.wide is session.narrow and session.cores == 1


def test_a_windows_logits_do_not_depend_on_what_is_read_beside_it() -> None:
    reader = NeuralReader()
    question = "Where did they meet?"
    first = "Hamas leader Khaled Mashaal met Qassem Soleimani in Turkey, the paper said."
    other = " ".join(["The council debated the harbour budget for a long time that evening."] * 12)
    enc_alone, start_alone, end_alone = reader.logits(question, [first])
    enc_pair, start_pair, end_pair = reader.logits(question, [first, other])
    n = int(enc_alone["attention_mask"][0].sum())
    assert enc_pair["attention_mask"].shape[1] > n  # the pair's batch is padded past it
    assert np.allclose(start_alone[0, :n], start_pair[0, :n], atol=1e-4)
    assert np.allclose(end_alone[0, :n], end_pair[0, :n], atol=1e-4)
    assert (start_pair[0, n:] < -1000).all()  # padding can never be an answer


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sample_path: Path) -> QAService:
    from qa.loaders import load_paths

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), max_concurrent_questions=2)
    svc = QAService(settings)
    svc.add_documents(load_paths([sample_path]).documents)
    return svc


def test_at_most_the_admitted_number_of_questions_run_at_once(service: QAService,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    real_ask = service._ask
    in_flight, peak, lock = [0], [0], threading.Lock()

    def counting_ask(*args: Any) -> Any:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return real_ask(*args)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(service, "_ask", counting_ask)
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(service.ask("where did they meet?")))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
    assert [a.answer for a in answers].count("Turkey") == 6
    assert all("queue" in a.timings_ms for a in answers)
    assert max(a.timings_ms["queue"] for a in answers) > 0  # the later ones waited


def test_bench_concurrency_measures_a_real_server(tmp_path: Path) -> None:
    from eval.concurrency import format_rows, run_concurrency

    rows = run_concurrency([1, 4], seconds=3, warmup_seconds=1)
    assert [r["clients"] for r in rows] == [1, 4]
    for row in rows:
        assert row["errors"] == 0 and row["questions"] > 0
        assert row["server_cores"] > 0.3  # the server did the work, not the clients
    assert rows[0]["vs_first"] == 1.0
    assert "| 4 |" in format_rows(rows)


def test_bench_chat_times_both_routes_on_a_real_server(tmp_path: Path) -> None:
    import json

    from eval.bench_cli import main

    out = tmp_path / "chat.json"
    assert main(["--chat", "--rounds", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))["chat"]
    assert result["last_answer"] == "Turkey" and result["rounds"] == 2
    assert result["ask_p50_ms"] > 0 and result["chat_p50_ms"] > 0
