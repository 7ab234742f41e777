"""OpenAI-compatible chat, through the official `openai` client against a real server on
loopback (models, index, SQLite): answers and citations, streaming, a two-turn conversation
resolved like /v1/ask, refusals and keys as the client reports them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from conftest import LiveServer, app_settings

QUESTION = "where did they meet?"


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="not-needed", max_retries=0,
                       timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def stored_text(live_server: LiveServer) -> str:
    return str(httpx.get(f"{live_server.url}/v1/documents/{live_server.document_id}").json()["text"])


def ask(live_server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{live_server.url}/v1/ask", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json())


def extra(model: Any, name: str) -> Any:
    """A field beyond OpenAI's own (the client keeps them in model_extra)."""
    return (model.model_extra or {})[name]


def test_models_lists_pressroom(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["pressroom"]
    assert client.models.retrieve("pressroom").id == "pressroom"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_answer_with_markers_sources_and_citations(client: openai.OpenAI, live_server: LiveServer,
                                                   stored_text: str) -> None:
    completion = client.chat.completions.create(
        model="pressroom", temperature=0.2, max_tokens=50,  # harmless: accepted, ignored
        messages=[{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": QUESTION}])
    assert completion.object == "chat.completion" and completion.model == "pressroom"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    assert content.startswith("Turkey [1]") or content.startswith("in Turkey [1]"), content
    assert "\n\nSources:\n[1] Report: Hamas leader met with top Iran commander — “" in content

    citations = extra(completion, "citations")
    reference = ask(live_server, {"question": QUESTION})
    assert citations == reference["citations"]  # exactly /v1/ask's
    for c in citations:
        assert stored_text[c["start"]:c["end"]] == c["quote"]
    assert "Turkey" in citations[0]["quote"]
    assert stored_text[citations[0]["answer_start"]:citations[0]["answer_end"]] == \
        reference["answer"]

    annotations = choice.message.annotations or []
    assert len(annotations) == len(citations)
    first = annotations[0]
    assert first.type == "url_citation"
    assert content[first.url_citation.start_index:first.url_citation.end_index] == "[1]"
    assert first.url_citation.title == citations[0]["title"]
    c = citations[0]
    assert first.url_citation.url == (f"{live_server.url}/#source={c['document_id']}:"
                                      f"{c['start']}-{c['end']}:{c['answer_start']}-{c['answer_end']}")


def test_streamed_answer(client: openai.OpenAI, stored_text: str) -> None:
    chunks = list(client.chat.completions.create(
        model="pressroom", stream=True, messages=[{"role": "user", "content": QUESTION}]))
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    content = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert "Turkey [1]" in content and "Sources:" in content
    carrying = [ch for ch in chunks if (ch.model_extra or {}).get("citations")]
    assert len(carrying) == 1
    citations = extra(carrying[0], "citations")
    assert "Turkey" in citations[0]["quote"]
    for c in citations:
        assert stored_text[c["start"]:c["end"]] == c["quote"]
    annotations = extra(carrying[0].choices[0].delta, "annotations")
    span = annotations[0]["url_citation"]
    assert content[span["start_index"]:span["end_index"]] == "[1]"


def test_two_turns_resolved_like_ask(client: openai.OpenAI, live_server: LiveServer) -> None:
    first_q, follow_up = "Who did Khaled Mashaal meet?", "Where?"
    turn1 = ask(live_server, {"question": first_q})
    turn2 = ask(live_server, {"question": follow_up, "conversation_id": turn1["conversation_id"]})
    assert turn2["standalone_question"] != follow_up  # a real follow-up, resolved

    one = client.chat.completions.create(model="pressroom",
                                         messages=[{"role": "user", "content": first_q}])
    reply = one.choices[0].message.content
    two = client.chat.completions.create(model="pressroom", messages=[
        {"role": "user", "content": first_q}, {"role": "assistant", "content": reply},
        {"role": "user", "content": follow_up}])
    assert extra(two, "standalone_question") == turn2["standalone_question"]
    assert extra(two, "citations") == turn2["citations"]
    assert (two.choices[0].message.content or "").startswith(f"{turn2['answer']} [1]")


def test_abstention_says_so_and_lists_closest_passages(client: openai.OpenAI,
                                                       stored_text: str) -> None:
    completion = client.chat.completions.create(model="pressroom", messages=[
        {"role": "user", "content": "What is the boiling point of mercury?"}])
    content = completion.choices[0].message.content or ""
    assert content.startswith("The articles do not say. The closest passages:\n[1] "), content
    citations = extra(completion, "citations")
    assert citations and all(c["answer_start"] is None for c in citations)
    for c in citations:
        assert stored_text[c["start"]:c["end"]] == c["quote"]
    annotations = completion.choices[0].message.annotations or []
    assert [content[a.url_citation.start_index:a.url_citation.end_index] for a in annotations] \
        == [f"[{n}]" for n in range(1, len(citations) + 1)]


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"n": 2}, "only n=1"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, "image_url"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"messages": [{"role": "user", "content": " "}]}, "messages"),
    ({"extra_body": {"frobnicate": True}}, "Unrecognized request argument supplied: frobnicate"),
])
def test_unsupported_requests_are_clear_400s(client: openai.OpenAI, kwargs: dict[str, Any],
                                             says: str) -> None:
    request: dict[str, Any] = {"model": "pressroom",
                               "messages": [{"role": "user", "content": QUESTION}], **kwargs}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(**request)
    assert says in refused.value.message
    assert refused.value.type == "invalid_request_error"


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="gpt-4o",
                                       messages=[{"role": "user", "content": QUESTION}])
    assert "pressroom" in refused.value.message


def test_keys_as_the_client_sends_them(live_server: LiveServer) -> None:
    messages: Any = [{"role": "user", "content": QUESTION}]
    with app_settings(live_server.app, api_key="s3cret", ask_requires_key=True):
        with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="wrong",
                           max_retries=0) as wrong:
            with pytest.raises(openai.AuthenticationError) as refused:
                wrong.chat.completions.create(model="pressroom", messages=messages)
            assert refused.value.code == "invalid_api_key"
            with pytest.raises(openai.AuthenticationError):
                wrong.models.list()
        raw = httpx.post(f"{live_server.url}/v1/chat/completions",
                         json={"model": "pressroom", "messages": messages})
        assert raw.status_code == 401
        assert set(raw.json()["error"]) >= {"message", "type", "code"}
        with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="s3cret", max_retries=0,
                           timeout=120) as right:
            answered = right.chat.completions.create(model="pressroom", messages=messages)
            assert "Turkey" in (answered.choices[0].message.content or "")


def test_guard_refusals_take_openai_shape(live_server: LiveServer) -> None:
    r = httpx.post(f"{live_server.url}/v1/chat/completions", content=b"model=pressroom",
                   headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{live_server.url}/v1/chat/completions", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and "message" in r.json()["error"]
    # /v1/ask keeps its own shape.
    r = httpx.post(f"{live_server.url}/v1/ask", json={"question": " "})
    assert r.status_code == 422 and isinstance(r.json()["error"], str)


def test_every_schema_the_openapi_document_refers_to_is_in_it() -> None:
    import re

    from api.app import create_app

    document = create_app().openapi()
    referred = set(re.findall(r"#/components/schemas/(\w+)", json.dumps(document)))
    assert "OpenAIErrorOut" in referred
    assert referred <= set(document["components"]["schemas"])
