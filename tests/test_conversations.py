"""Conversations: the SQLite store (turns, expiry, deletion) and the HTTP contract of
POST /v1/ask with conversation_id and GET/DELETE /v1/conversations/{id}, on the real models."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.storage.conversations import ConversationNotFound, ConversationStore, new_conversation_id
from qa.types import Citation

TITLE = "Report: Hamas leader met with top Iran commander"


# --------------------------------------------------------------------------- store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def store(tmp_path: Path, clock: Clock) -> Iterator[ConversationStore]:
    s = ConversationStore(tmp_path / "qa.sqlite3", ttl_hours=24, clock=clock)
    yield s
    s.close()


CITE = Citation("doc1", "A title", 3, 10, 40, "the quoted sentence", 14, 20)


def test_turns_are_numbered_and_kept_in_order(store: ConversationStore) -> None:
    cid = new_conversation_id()
    assert re.fullmatch(r"[0-9a-f]{32}", cid)
    first = store.add_turn(cid, "Who did Mashaal meet?", "Who did Mashaal meet?",
                           "Qassem Soleimani", [CITE], create=True)
    second = store.add_turn(cid, "Where?", "Where did Mashaal meet Qassem Soleimani?", None, [])
    assert (first.turn, second.turn) == (1, 2)
    conv = store.get(cid)
    assert conv is not None and conv.id == cid
    assert [t.question for t in conv.turns] == ["Who did Mashaal meet?", "Where?"]
    assert conv.turns[1].standalone_question == "Where did Mashaal meet Qassem Soleimani?"
    assert conv.turns[1].answer is None and conv.turns[1].citations == []
    assert conv.turns[0].citations == [{
        "document_id": "doc1", "title": "A title", "passage_id": 3, "start": 10, "end": 40,
        "quote": "the quoted sentence", "answer_start": 14, "answer_end": 20, "published": None,
        "page": None, "block": None}]
    assert conv.created_at <= conv.updated_at < conv.expires_at
    assert [t.turn for t in store.history(cid, last=1)] == [2]


def test_unknown_conversations(store: ConversationStore) -> None:
    assert store.get("nope") is None and not store.exists("nope")
    with pytest.raises(ConversationNotFound, match="nope"):
        store.history("nope", 5)
    with pytest.raises(ConversationNotFound):
        store.add_turn("nope", "q", "q", None, [])
    assert store.count() == 0


def test_conversations_expire_after_their_last_turn(store: ConversationStore,
                                                    clock: Clock) -> None:
    old, fresh = new_conversation_id(), new_conversation_id()
    store.add_turn(old, "q1", "q1", "a", [], create=True)
    clock.now += timedelta(hours=20)
    store.add_turn(fresh, "q1", "q1", "a", [], create=True)
    store.add_turn(old, "q2", "q2", "a", [])  # continuing it resets its clock
    clock.now += timedelta(hours=23)
    assert store.exists(old) and store.exists(fresh)
    clock.now += timedelta(hours=2)  # 25 h after old's last turn, 25 h after fresh's
    assert store.get(old) is None and not store.exists(fresh)
    with pytest.raises(ConversationNotFound):
        store.add_turn(old, "q3", "q3", None, [])
    assert store.purge_expired() == 2 and store.count() == 0


def test_delete_removes_the_turns(store: ConversationStore, tmp_path: Path) -> None:
    cid = new_conversation_id()
    store.add_turn(cid, "q", "q", "a", [CITE], create=True)
    assert store.delete(cid) is True
    assert store.delete(cid) is False and store.get(cid) is None
    conn = sqlite3.connect(tmp_path / "qa.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0
    conn.close()


def test_schema_lives_in_the_service_database(tmp_path: Path, clock: Clock) -> None:
    from qa.storage.documents import DocumentStore

    path = tmp_path / "qa.sqlite3"
    docs = DocumentStore(path)
    first = ConversationStore(path, 1, clock)
    first.close()
    again = ConversationStore(path, 1, clock)  # migrations are applied once
    rows = again._db.query("SELECT namespace, COUNT(*) FROM applied_migrations"
                           " GROUP BY namespace ORDER BY namespace")
    assert [tuple(r) for r in rows] == [("conversations", 2), ("store", 7)]
    assert {r[0] for r in again._db.query("SELECT name FROM sqlite_master")} >= {
        "conversations", "turns", "documents", "passages"}
    again.close()
    docs.close()


# --------------------------------------------------------------------------- API


@pytest.fixture(scope="module")
def client(api_env: Path, sample_text: str) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as c:
        r = c.post("/v1/documents", json={"title": TITLE, "text": sample_text})
        assert r.status_code in (200, 201), r.text
        yield c


def ask(client: TestClient, question: str, conversation_id: str | None = None) -> dict:
    body = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    r = client.post("/v1/ask", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_follow_up_is_resolved_stored_and_returned(client: TestClient) -> None:
    first = ask(client, "Who did Mashaal meet?")
    cid = first["conversation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", cid)
    assert first["standalone_question"] == "Who did Mashaal meet?"
    second = ask(client, "Where?", cid)
    assert second["conversation_id"] == cid and second["question"] == "Where?"
    # the elliptical question became the previous one with its wh-word replaced and the
    # previous answer filled in (a prefix would pass a rewrite that dropped the answer)
    assert second["standalone_question"] == f"Where did Mashaal meet {first['answer']}?"
    assert "rewrite" in second["timings_ms"] and "conversation" in second["timings_ms"]

    conv = client.get(f"/v1/conversations/{cid}")
    assert conv.status_code == 200
    data = conv.json()
    assert data["id"] == cid and data["expires_at"] > data["updated_at"]
    assert [t["turn"] for t in data["turns"]] == [1, 2]
    for stored, returned in zip(data["turns"], (first, second), strict=True):
        assert stored["question"] == returned["question"]
        assert stored["standalone_question"] == returned["standalone_question"]
        assert stored["answer"] == returned["answer"]
        assert stored["citations"] == returned["citations"]


def test_each_question_without_an_id_starts_a_conversation(client: TestClient) -> None:
    a = ask(client, "Who reported the meeting?")
    b = ask(client, "Who reported the meeting?")
    assert a["conversation_id"] != b["conversation_id"]


def test_unknown_and_deleted_conversations_are_404(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "Where?", "conversation_id": "0" * 32})
    assert r.status_code == 404 and "conversation" in r.json()["error"]
    assert client.get(f"/v1/conversations/{'0' * 32}").status_code == 404
    assert client.delete(f"/v1/conversations/{'0' * 32}").status_code == 404

    cid = ask(client, "Who reported the meeting?")["conversation_id"]
    assert client.delete(f"/v1/conversations/{cid}").status_code == 204
    assert client.get(f"/v1/conversations/{cid}").status_code == 404
    assert client.post("/v1/ask", json={"question": "When?",
                                        "conversation_id": cid}).status_code == 404


def test_an_invalid_question_stores_no_turn(client: TestClient) -> None:
    cid = ask(client, "Who reported the meeting?")["conversation_id"]
    r = client.post("/v1/ask", json={"question": "   ", "conversation_id": cid})
    assert r.status_code == 422
    assert len(client.get(f"/v1/conversations/{cid}").json()["turns"]) == 1


def test_gold_dialog_turns_that_pass_with_the_current_reader(client: TestClient) -> None:
    """sample-dialog-1, turns 1-2 (the other turns of the gold dialogs are reported by
    `qa eval coqa eval/gold/sample-coqa.json`)."""
    first = ask(client, "Who did Mashaal meet?")
    assert first["answer"] is not None and "Soleimani" in first["answer"]
    second = ask(client, "Where?", first["conversation_id"])
    assert second["standalone_question"] == f"Where did Mashaal meet {first['answer']}?"
    assert second["answer"] in ("Turkey", "in Turkey")
    for body in (first, second):
        cite = body["citations"][0]
        assert cite["answer_start"] is not None and body["answer"] in cite["quote"]


def test_cli_chat_keeps_one_conversation(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("Who did Mashaal meet?\nWhere?\n\n"))
    assert main(["ask", "--chat"]) == 0
    out = capsys.readouterr()
    assert "(searched: Where did Mashaal meet" in out.out
    cid = re.search(r"conversation ([0-9a-f]{32})", out.err)
    assert cid is not None
    turns = client.get(f"/v1/conversations/{cid.group(1)}").json()["turns"]
    assert [t["question"] for t in turns] == ["Who did Mashaal meet?", "Where?"]
