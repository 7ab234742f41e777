"""The HTTP contract through the real app (routers, lifespan, guard, SQLite) on the fake
models: status codes, error bodies, offsets, conversations and the event stream.
tests/test_api.py checks the same app on the real models, answers included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import HashingEncoder, OverlapReader
from fastapi.testclient import TestClient

from api.app import create_app
from qa.settings import Settings

TITLE = "Report: Hamas leader met with top Iran commander"
MET = "Where did Mashaal and Soleimani meet?"
ENCODER = HashingEncoder()


def app_client(data_dir: Path, **settings: Any) -> TestClient:
    """A client of the app on the fakes (enter it to run the lifespan)."""
    app = create_app(Settings(data_dir=data_dir, **settings), encoder=ENCODER,
                     reader=OverlapReader())
    return TestClient(app)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, sample_text: str) -> Iterator[TestClient]:
    with app_client(tmp_path_factory.mktemp("api")) as c:
        r = c.post("/v1/documents", json={"title": TITLE, "text": sample_text})
        assert r.status_code == 201, r.text
        yield c


def ask(client: TestClient, question: str, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/ask", json={"question": question, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def check_offsets(client: TestClient, body: dict[str, Any]) -> None:
    """Quotes, answers and passages are the document's text at their offsets."""
    texts: dict[str, str] = {}

    def text(document_id: str) -> str:
        if document_id not in texts:
            texts[document_id] = client.get(f"/v1/documents/{document_id}").json()["text"]
        return texts[document_id]

    assert body["citations"]
    for c in body["citations"]:
        assert text(c["document_id"])[c["start"] : c["end"]] == c["quote"]
        if c["answer_start"] is not None:
            assert text(c["document_id"])[c["answer_start"] : c["answer_end"]] == body["answer"]
    for p in body["passages"]:
        assert text(p["document_id"])[p["start"] : p["end"]] == p["text"]


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 1 and health["passages"] > 0
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/ask/stream", "/v1/documents", "/v1/documents/{document_id}",
            "/v1/conversations/{conversation_id}", "/healthz"} <= set(paths)


def test_an_answer_and_an_abstention_cite_the_stored_text(client: TestClient) -> None:
    answered = ask(client, MET)
    assert answered["answer"] and answered["answer"].startswith("Mashaal was only allowed")
    assert answered["confidence"] == 1.0 and answered["citations"][0]["answer_start"] is not None
    assert {"retrieve", "read"} <= set(answered["timings_ms"])
    check_offsets(client, answered)
    abstained = ask(client, "What is the population of Brazil?")
    assert abstained["answer"] is None and abstained["confidence"] == 0.0
    assert all(c["answer_start"] is None for c in abstained["citations"])
    check_offsets(client, abstained)


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
    asked = ask(client, "Which town did the storm flood?", document_ids=[new_id])
    assert "Harwick" in asked["answer"]
    assert asked["passages"] and all(p["document_id"] == new_id for p in asked["passages"])
    assert client.delete(f"/v1/documents/{new_id}").status_code == 204
    assert client.get(f"/v1/documents/{new_id}").status_code == 404
    assert client.delete(f"/v1/documents/{new_id}").status_code == 404
    assert [d["id"] for d in client.get("/v1/documents").json()] == [listed[0]["id"]]


@pytest.mark.parametrize("payload", [
    {"question": ""}, {"question": "   \t "}, {"question": "x" * 1001}, {"question": 12}, {},
    {"question": "where?", "top_k": 0},
])
def test_bad_questions_are_422(client: TestClient, payload: dict[str, Any]) -> None:
    for path in ("/v1/ask", "/v1/ask/stream"):  # refused before any streaming starts
        r = client.post(path, json=payload)
        assert r.status_code == 422 and r.json()["error"], (path, r.text)


def test_malformed_json_is_400(client: TestClient) -> None:
    for path in ("/v1/ask", "/v1/documents"):
        r = client.post(path, content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "error" in r.json()


def test_bad_documents(client: TestClient) -> None:
    assert client.post("/v1/documents", json={"title": "t", "text": "  "}).status_code == 422
    assert client.post("/v1/documents", json={"text": "no title"}).status_code == 422
    binary = client.post("/v1/documents", files={"file": ("x.txt", b"ab\xfa\x00", "text/plain")})
    assert binary.status_code == 400 and "binary data" in binary.json()["error"]
    limit = Settings().max_document_bytes
    big = client.post("/v1/documents", json={"title": "big", "text": "a" * (limit + 1)})
    assert big.status_code == 413 and "error" in big.json()
    assert client.post("/v1/documents", files={"file": ("big.txt", b"a" * (limit + 1))}
                       ).status_code == 413
    assert client.get("/v1/documents/nope").status_code == 404
    assert client.get("/v1/documents/nope").json()["error"]
    assert client.get("/v1/documents/nope").json()["error"]


def test_a_follow_up_is_a_turn_of_its_conversation(client: TestClient) -> None:
    first = ask(client, "Who did Mashaal meet?")
    cid = first["conversation_id"]
    assert first["standalone_question"] == "Who did Mashaal meet?"
    second = ask(client, "Where?", conversation_id=cid)
    assert second["conversation_id"] == cid and second["question"] == "Where?"
    # resolved against the first turn before searching (how well is the full tier's business:
    # the fake reader's answers are whole sentences), and stored with the turn
    # the previous question's frame with something of the earlier turn filled in
    standalone = second["standalone_question"]
    assert standalone.startswith("Where did Mashaal meet ") and standalone.endswith("?")
    turns = client.get(f"/v1/conversations/{cid}").json()["turns"]
    assert [(t["turn"], t["question"], t["standalone_question"]) for t in turns] == [
        (1, "Who did Mashaal meet?", "Who did Mashaal meet?"),
        (2, "Where?", second["standalone_question"])]
    assert client.delete(f"/v1/conversations/{cid}").status_code == 204
    assert client.get(f"/v1/conversations/{cid}").status_code == 404
    r = client.post("/v1/ask", json={"question": "Where?", "conversation_id": cid})
    assert r.status_code == 404 and r.json()["error"]


def test_the_stream_carries_the_same_answer(client: TestClient) -> None:
    r = client.post("/v1/ask/stream", json={"question": MET})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [(block.split("\n")[0].removeprefix("event: "),
               json.loads(block.split("\n")[1].removeprefix("data: ")))
              for block in r.text.strip().split("\n\n") if block.startswith("event: ")]
    names = [name for name, _ in events]
    assert names == ["stage", "stage", "answer", "timings", "done"], names
    assert [data["stage"] for name, data in events if name == "stage"] == ["searching", "reading"]
    streamed = dict(events)["answer"]
    asked = ask(client, MET)
    assert (streamed["answer"], streamed["citations"]) == (asked["answer"], asked["citations"])


def test_an_api_key_guards_writes_and_optionally_asking(tmp_path: Path) -> None:
    key = {"Authorization": "Bearer s3cret"}
    doc = {"title": "Keyed", "text": "Only with a key."}
    with app_client(tmp_path, api_key="s3cret") as c:
        assert c.post("/v1/documents", json=doc).status_code == 401
        bad = c.post("/v1/documents", json=doc, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and bad.json()["error"]
        added = c.post("/v1/documents", json=doc, headers=key)
        assert added.status_code == 201
        assert c.delete(f"/v1/documents/{added.json()['id']}").status_code == 401
        assert c.post("/v1/ask", json={"question": "Who has a key?"}).status_code == 200
        assert c.delete(f"/v1/documents/{added.json()['id']}", headers=key).status_code == 204
    with app_client(tmp_path, api_key="s3cret", ask_requires_key=True) as c:
        assert c.post("/v1/ask", json={"question": "Who has a key?"}).status_code == 401
        assert c.post("/v1/ask", json={"question": "Who has a key?"}, headers=key
                      ).status_code == 200


def test_a_question_is_validated_once_on_every_route(client: TestClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The routes hand the validated question on, so no later stage cleans or checks it again
    (it was validated up to three times on the streamed path)."""
    import qa.question

    calls: list[str] = []
    clean = qa.question.clean_line

    def counting(text: str) -> str:
        calls.append(text)
        return clean(text)

    monkeypatch.setattr(qa.question, "clean_line", counting)
    ask(client, MET)
    assert calls == [MET]
    calls.clear()
    r = client.post("/v1/ask/stream", json={"question": MET})
    assert r.status_code == 200 and "event: answer" in r.text
    assert calls == [MET]
