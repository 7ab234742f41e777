"""The HTTP contract, through the real app (models, index, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import app_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.chat import ChatService
from qa.service import QAService


@pytest.fixture(scope="module")
def client(api_env: Path, sample_text: str) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as c:
        r = c.post("/v1/documents", json={"title": "Report: Hamas leader met with top Iran commander",
                                          "text": sample_text})
        assert r.status_code == 201, r.text
        yield c


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 1 and health["passages"] > 0
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/documents", "/v1/documents/{document_id}", "/healthz"} <= set(paths)


def test_ask_where_they_met(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "where did they meet?"})
    assert r.status_code == 200
    body = r.json()
    assert body["answer"] in ("Turkey", "in Turkey")
    assert 0 <= body["confidence"] <= 1
    cite = body["citations"][0]
    text = client.get(f"/v1/documents/{cite['document_id']}").json()["text"]
    assert text[cite["start"] : cite["end"]] == cite["quote"] and "Turkey" in cite["quote"]
    assert text[cite["answer_start"] : cite["answer_end"]] == body["answer"]
    assert body["passages"] and {"document_id", "passage_id", "start", "end", "text", "score"} <= \
        set(body["passages"][0])
    for p in body["passages"]:
        assert text[p["start"] : p["end"]] == p["text"]
    assert "retrieve" in body["timings_ms"]


def test_documents_crud_and_reingest(client: TestClient, sample_text: str) -> None:
    listed = client.get("/v1/documents").json()
    assert len(listed) == 1 and "text" not in listed[0]
    again = client.post("/v1/documents", json={"title": "Same text", "text": sample_text})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == listed[0]["id"]

    upload = client.post("/v1/documents", files={"file": (
        "storm.md", b"# Storm hits coast\n\nThe storm flooded the town of Harwick on Thursday.",
        "text/markdown")})
    assert upload.status_code == 201, upload.text
    new_id = upload.json()["id"]
    assert upload.json()["title"] == "Storm hits coast" and upload.json()["passages"] >= 1
    asked = client.post("/v1/ask", json={"question": "Which town did the storm flood?",
                                         "document_ids": [new_id]}).json()
    assert asked["passages"] and all(p["document_id"] == new_id for p in asked["passages"])
    assert client.delete(f"/v1/documents/{new_id}").status_code == 204
    assert client.get(f"/v1/documents/{new_id}").status_code == 404
    assert client.delete(f"/v1/documents/{new_id}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"question": ""}, 422),
        ({"question": "   \t "}, 422),
        ({"question": "x" * 1001}, 422),
        ({"question": 12}, 422),
        ({}, 422),
        ({"question": "where?", "top_k": 0}, 422),
    ],
)
def test_bad_questions(client: TestClient, payload: dict, status: int) -> None:
    r = client.post("/v1/ask", json=payload)
    assert r.status_code == status
    assert "error" in r.json()


def test_api_key_guards_writes_only(client: TestClient) -> None:
    assert isinstance(client.app, FastAPI)
    with app_settings(client.app, api_key="s3cret"):
        doc = {"title": "Keyed", "text": "Only with a key."}
        assert client.post("/v1/documents", json=doc).status_code == 401
        bad = client.post("/v1/documents", json=doc, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and "error" in bad.json()
        ok = client.post("/v1/documents", json=doc, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        assert client.delete(f"/v1/documents/{ok.json()['id']}").status_code == 401
        assert client.delete(f"/v1/documents/{ok.json()['id']}",
                             headers={"Authorization": "Bearer s3cret"}).status_code == 204
        assert client.post("/v1/ask", json={"question": "where did they meet?"}).status_code == 200
    with app_settings(client.app, api_key="s3cret", ask_requires_key=True):
        assert client.post("/v1/ask", json={"question": "where did they meet?"}).status_code == 401


def test_one_service_per_app_whatever_the_key(client: TestClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Which ChatService and QAService answered each question.
    chats: list[ChatService] = []
    services: list[QAService] = []
    chat_ask, service_ask = ChatService.ask, QAService.ask

    def chat_recording(self: ChatService, *args: Any, **kwargs: Any) -> Any:
        chats.append(self)
        return chat_ask(self, *args, **kwargs)

    def service_recording(self: QAService, *args: Any, **kwargs: Any) -> Any:
        services.append(self)
        return service_ask(self, *args, **kwargs)

    monkeypatch.setattr(ChatService, "ask", chat_recording)
    monkeypatch.setattr(QAService, "ask", service_recording)
    app = client.app
    assert isinstance(app, FastAPI)
    question = {"question": "where did they meet?"}
    assert client.post("/v1/ask", json=question).status_code == 200
    for key in ("first-key", "second-key"):
        with app_settings(app, api_key=key, ask_requires_key=True):
            asked = client.post("/v1/ask", json=question, headers={"Authorization": f"Bearer {key}"})
            assert asked.status_code == 200
    chat, service = app.state.chat, app.state.service
    assert chats == [chat] * 3 and services == [service] * 3 and chat.service is service


class UnusedReader:
    """A reader no question reaches here: stands for the fast tier's small one."""

    abstain_threshold = 0.5

    def read(self, question: str, passages: list[Any]) -> Any:
        raise AssertionError("not asked")


def test_the_lifespan_builds_and_warms_the_singletons(
        api_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.app import create_app
    from qa.settings import Settings

    warmed: list[QAService] = []
    warm_up = QAService.warm_up

    def recording(self: QAService) -> None:
        warmed.append(self)
        warm_up(self)

    monkeypatch.setattr(QAService, "warm_up", recording)
    settings = Settings(data_dir=api_env / "other")
    reader = UnusedReader()
    app = create_app(settings, reader=reader)
    not_started = TestClient(app)  # no lifespan: nothing to answer with, a clear JSON 503
    for r in (not_started.get("/healthz"), not_started.post("/v1/ask", json={"question": "q"})):
        assert r.status_code == 503 and "not running" in r.json()["error"]
    with TestClient(app) as c:
        assert warmed == [app.state.service]  # warmed once, before any request
        assert app.state.settings is settings and app.state.service.settings is settings
        assert app.state.chat.service is app.state.service
        assert app.state.service.reader is reader  # the seam: the given reader, not the model
        assert c.get("/healthz").json()["reader"] == "rules"
    assert not hasattr(app.state, "service") and warmed == [warmed[0]]
    assert not_started.get("/healthz").status_code == 503  # shut down: refused again
