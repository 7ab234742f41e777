"""POST /v1/ask/stream: Server-Sent Events on the real models, validation before streaming,
errors as events, keep-alives, and clients that hang up early."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import event_stream
from api.routers import stream
from qa.service import QuestionError
from qa.settings import Settings
from qa.types import Answer, Citation

Event = tuple[str, Any]


def parse_sse(text: str) -> list[Event]:
    """Events of a Server-Sent Events body as (name, JSON data); comments are skipped."""
    events: list[Event] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


# ------------------------------------------------------------------- the real application

@pytest.fixture(scope="module")
def client(api_env: Path, sample_path: Path) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as c:
        with sample_path.open("rb") as f:
            added = c.post("/v1/documents", files={"file": (sample_path.name, f, "text/plain")})
        assert added.status_code == 201, added.text
        yield c


def test_stream_answers_with_stages_then_answer_then_timings(client: TestClient) -> None:
    body = {"question": "where did they meet?"}
    r = client.post("/v1/ask/stream", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    events = parse_sse(r.text)
    assert [name for name, _ in events] == ["stage", "stage", "answer", "timings", "done"]
    assert [data["stage"] for name, data in events if name == "stage"] == ["searching", "reading"]

    answer = events[2][1]
    assert "Turkey" in answer["answer"]
    citation = answer["citations"][0]
    assert "Turkey" in citation["quote"]
    document = client.get(f"/v1/documents/{citation['document_id']}").json()
    assert document["text"][citation["start"] : citation["end"]] == citation["quote"]
    assert document["text"][citation["answer_start"] : citation["answer_end"]] == answer["answer"]

    timings = events[3][1]
    assert {"retrieve", "read"} <= set(timings["timings_ms"])
    assert timings["total_ms"] >= timings["timings_ms"]["read"]
    assert events[4][1] == {}

    # The streamed answer is the /v1/ask answer (timings and conversation aside).
    plain = client.post("/v1/ask", json=body).json()
    for key in ("answer", "confidence", "citations", "passages", "standalone_question"):
        assert answer[key] == plain[key], key
    assert answer["conversation_id"] and answer["conversation_id"] != plain["conversation_id"]


def test_follow_ups_continue_the_streamed_conversation(client: TestClient) -> None:
    first = dict(parse_sse(client.post("/v1/ask/stream",
                                       json={"question": "Who did Mashaal meet?"}).text))["answer"]
    conversation = first["conversation_id"]
    r = client.post("/v1/ask/stream", json={"question": "Where?",
                                            "conversation_id": conversation})
    follow_up = dict(parse_sse(r.text))["answer"]
    assert follow_up["conversation_id"] == conversation
    assert follow_up["question"] == "Where?"
    assert follow_up["standalone_question"].startswith("Where did Mashaal meet")
    assert "Turkey" in (follow_up["answer"] or "")
    turns = client.get(f"/v1/conversations/{conversation}").json()["turns"]
    assert [t["question"] for t in turns] == ["Who did Mashaal meet?", "Where?"]


def test_unknown_conversation_is_404_before_streaming(client: TestClient) -> None:
    body = {"question": "where did they meet?", "conversation_id": "no-such-conversation"}
    streamed = client.post("/v1/ask/stream", json=body)
    plain = client.post("/v1/ask", json=body)
    assert streamed.status_code == plain.status_code == 404
    assert streamed.headers["content-type"] == "application/json"
    assert streamed.json() == plain.json()


def test_stream_abstains_with_nearest_passages(client: TestClient) -> None:
    r = client.post("/v1/ask/stream", json={"question": "What is the price of bitcoin today?"})
    answer = dict(parse_sse(r.text))["answer"]
    assert answer["answer"] is None
    assert answer["citations"], "an abstention still lists the nearest passages"


@pytest.mark.parametrize("body", [
    {"question": ""},
    {"question": "   "},
    {"question": "x" * 5000},
    {"question": "where?", "top_k": 0},
    {"question": "where?", "document_ids": "abc"},
    {"top_k": 3},
])
def test_invalid_requests_are_refused_as_json_before_streaming(client: TestClient,
                                                               body: dict[str, Any]) -> None:
    streamed = client.post("/v1/ask/stream", json=body)
    plain = client.post("/v1/ask", json=body)
    assert streamed.status_code == plain.status_code == 422
    assert streamed.headers["content-type"] == "application/json"
    assert streamed.json() == plain.json()
    assert "error" in streamed.json()


def test_body_that_is_not_json_is_400(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    streamed = client.post("/v1/ask/stream", content=b"{not json", headers=headers)
    plain = client.post("/v1/ask", content=b"{not json", headers=headers)
    assert streamed.status_code == plain.status_code == 400
    assert streamed.json() == plain.json()


def test_stream_needs_the_key_when_asking_needs_it(client: TestClient, api_env: Path) -> None:
    from api.deps import settings_dep

    app = client.app
    assert isinstance(app, FastAPI)
    keyed = Settings.model_validate(
        {"data_dir": api_env, "api_key": "sesame", "ask_requires_key": True})
    app.dependency_overrides[settings_dep] = lambda: keyed
    try:
        r = client.post("/v1/ask/stream", json={"question": "where did they meet?"})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/json"
        assert "API key" in r.json()["error"]
        wrong = {"Authorization": "Bearer nope"}
        assert client.post("/v1/ask/stream", json={"question": "where?"},
                           headers=wrong).status_code == 401
    finally:
        app.dependency_overrides.clear()


def test_openapi_documents_the_event_stream(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/ask/stream"]["post"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskIn")
    for event in ("stage", "answer", "timings", "error", "done"):
        assert f"`{event}`" in op["description"]
    assert {"401", "422"} <= set(op["responses"])


# ------------------------------------------------------ a stand-in answerer (no models)

def fake_answer(question: str) -> Answer:
    quote = "They met in Turkey."
    return Answer(question=question, answer="Turkey", confidence=0.9, no_answer_probability=0.1,
                  citations=[Citation("d1", "T", 0, 0, len(quote), quote, 12, 18)], passages=[],
                  timings_ms={"retrieve": 1.0, "read": 2.0})


def stand_in_app(ask: Callable[[Any, Callable[[str], None]], Answer]) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings()  # as the real app's lifespan does: the key checks read it
    app.include_router(stream.router)
    app.dependency_overrides[stream.asker] = lambda: stream.Asker(lambda body: None, ask)
    return app


def test_failure_in_the_worker_becomes_an_error_event(caplog: pytest.LogCaptureFixture) -> None:
    def broken(body: Any, on_stage: Callable[[str], None]) -> Answer:
        on_stage("searching")
        raise RuntimeError("index exploded")

    with caplog.at_level(logging.ERROR), TestClient(stand_in_app(broken)) as c:
        r = c.post("/v1/ask/stream", json={"question": "where?"})
    assert r.status_code == 200
    assert parse_sse(r.text) == [("stage", {"stage": "searching"}),
                                 ("error", {"error": "internal error"}), ("done", {})]
    assert "index exploded" not in r.text  # internals stay in the log
    assert any("streamed question failed" in rec.message for rec in caplog.records)


def test_question_error_in_the_worker_is_reported() -> None:
    def picky(body: Any, on_stage: Callable[[str], None]) -> Answer:
        raise QuestionError("question is too vague")

    with TestClient(stand_in_app(picky)) as c:
        events = parse_sse(c.post("/v1/ask/stream", json={"question": "hm"}).text)
    assert events == [("error", {"error": "question is too vague"}), ("done", {})]


def test_slow_answer_gets_keep_alive_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "HEARTBEAT_SECONDS", 0.05)

    def slow(body: Any, on_stage: Callable[[str], None]) -> Answer:
        on_stage("searching")
        time.sleep(0.4)
        return fake_answer(body.question)

    with TestClient(stand_in_app(slow)) as c:
        text = c.post("/v1/ask/stream", json={"question": "where?"}).text
    assert ": keep-alive\n\n" in text
    assert [name for name, _ in parse_sse(text)] == ["stage", "answer", "timings", "done"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_client_that_hangs_up_does_not_hurt_the_server(caplog: pytest.LogCaptureFixture) -> None:
    """The worker outlives the stream: its late events are dropped, nothing is logged as an
    error, and the server keeps answering."""
    release, finished = threading.Event(), threading.Event()

    def held(body: Any, on_stage: Callable[[str], None]) -> Answer:
        on_stage("searching")
        if body.question == "hold":
            release.wait(10)
        on_stage("reading")
        if body.question == "hold":
            finished.set()
        return fake_answer(body.question)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stand_in_app(held), host="127.0.0.1", port=port,
                                           log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    with caplog.at_level(logging.DEBUG):
        thread.start()
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while not server.started:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
            with httpx.Client(base_url=base, timeout=10) as http:
                with http.stream("POST", "/v1/ask/stream", json={"question": "hold"}) as r:
                    first = next(r.iter_text())
                    assert "searching" in first
                # The client has hung up; once the server has noticed (a loaded machine may
                # take a moment), let the worker finish into the void.
                noticed = time.monotonic() + 10
                while time.monotonic() < noticed and not any(
                        "before its worker finished" in rec.getMessage() for rec in caplog.records):
                    time.sleep(0.05)
                release.set()
                assert finished.wait(10)
                time.sleep(0.3)
                r2 = http.post("/v1/ask/stream", json={"question": "again"})
                assert [n for n, _ in parse_sse(r2.text)][-2:] == ["timings", "done"]
        finally:
            release.set()
            server.should_exit = True
            thread.join(10)
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert not errors, [rec.getMessage() for rec in errors]
    assert any("before its worker finished" in rec.getMessage() for rec in caplog.records), \
        "the stream should have been closed while its worker was still busy"
