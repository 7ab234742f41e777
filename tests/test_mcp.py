"""The MCP server through the official `mcp` SDK's client: over stdio (`qa mcp`, a real
subprocess) and over streamable HTTP (/mcp on a real loopback server): typed tools, the same
answer and offsets as /v1/ask, documents as resources, and the write key over HTTP."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import pytest
from conftest import ROOT, LiveServer, app_settings
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

QUESTION = "where did they meet?"
T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(main)


def reference(live_server: LiveServer) -> dict[str, Any]:
    r = httpx.post(f"{live_server.url}/v1/ask", json={"question": QUESTION}, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json())


def stored(live_server: LiveServer) -> str:
    return str(httpx.get(f"{live_server.url}/v1/documents/{live_server.document_id}").json()["text"])


async def check_tools_and_ask(client: Client, live_server: LiveServer) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"ask", "search", "get_document", "add_document"}
    ask = tools["ask"]
    assert ask.input_schema["required"] == ["question"]
    assert ask.input_schema["properties"]["question"]["type"] == "string"
    assert {"document_ids", "published_from", "published_to"} <= set(ask.input_schema["properties"])
    assert ask.output_schema is not None and "citations" in ask.output_schema["properties"]

    result = await client.call_tool("ask", {"question": QUESTION})
    assert not result.is_error
    answer = result.structured_content
    assert answer is not None
    expected = reference(live_server)
    assert answer["answer"] == expected["answer"] and "Turkey" in answer["answer"]
    assert answer["citations"] == expected["citations"]
    assert answer["confidence"] == pytest.approx(expected["confidence"])
    text = stored(live_server)
    for c in answer["citations"]:
        assert text[c["start"]:c["end"]] == c["quote"]
    first = answer["citations"][0]
    assert text[first["answer_start"]:first["answer_end"]] == answer["answer"]

    found = await client.call_tool("search", {"query": QUESTION, "top_k": 3})
    assert found.structured_content is not None
    passages = found.structured_content["passages"]
    assert 1 <= len(passages) <= 3
    for p in passages:
        assert text[p["start"]:p["end"]] == p["text"] and isinstance(p["score"], float)

    document = await client.call_tool("get_document", {"document_id": live_server.document_id})
    assert document.structured_content is not None
    assert document.structured_content["text"] == text
    missing = await client.call_tool("get_document", {"document_id": "nope"})
    assert missing.is_error

    uri = f"pressroom://documents/{live_server.document_id}"
    listed = (await client.list_resources()).resources
    assert uri in [str(r.uri) for r in listed]
    contents = (await client.read_resource(uri)).contents
    assert getattr(contents[0], "text", None) == text

    refused = await client.call_tool("ask", {"question": ""})
    assert refused.is_error


def test_stdio_qa_mcp(live_server: LiveServer) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith(("QA_", "HF_", "TRANSFORMERS_"))}
    env["QA_DATA_DIR"] = str(live_server.data_dir)
    params = StdioServerParameters(command=sys.executable, args=["-m", "qa.cli", "mcp"],
                                   env=env, cwd=ROOT)

    async def main() -> None:
        async with Client(params) as client:
            await check_tools_and_ask(client, live_server)
            # A local process: adding needs no key, whatever QA_API_KEY says.
            added = await client.call_tool("add_document", {
                "title": "Storm hits coast", "text": "The storm flooded the town of Harwick."})
            assert not added.is_error and added.structured_content is not None
            assert added.structured_content["created"] is True

    run(main)
    document_id = httpx.get(f"{live_server.url}/v1/documents").json()
    harwick = [d["id"] for d in document_id if d["title"] == "Storm hits coast"]
    assert len(harwick) == 1  # the server sees what the stdio process stored
    assert httpx.delete(f"{live_server.url}/v1/documents/{harwick[0]}").status_code == 204


def test_http_mcp(live_server: LiveServer) -> None:
    async def main() -> None:
        async with Client(f"{live_server.url}/mcp") as client:
            await check_tools_and_ask(client, live_server)

    run(main)


def test_http_add_document_needs_the_key(live_server: LiveServer) -> None:
    doc = {"title": "Keyed", "text": "Only with a key: the harbour reopened on Monday."}

    async def main() -> dict[str, Any]:
        async with Client(f"{live_server.url}/mcp") as anonymous:
            refused = await anonymous.call_tool("add_document", doc)
            assert refused.is_error
            assert "API key" in getattr(refused.content[0], "text", "")
            asked = await anonymous.call_tool("ask", {"question": QUESTION})  # asking is open
            assert not asked.is_error
        wrong = httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"}, timeout=120)
        async with wrong, Client(streamable_http_client(f"{live_server.url}/mcp",
                                                        http_client=wrong)) as client:
            assert (await client.call_tool("add_document", doc)).is_error
        keyed = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}, timeout=120)
        async with keyed, Client(streamable_http_client(f"{live_server.url}/mcp",
                                                        http_client=keyed)) as client:
            added = await client.call_tool("add_document", doc)
            assert not added.is_error and added.structured_content is not None
            return added.structured_content

    with app_settings(live_server.app, api_key="s3cret"):
        added = run(main)
        assert added["created"] is True and added["passages"] >= 1
        headers = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{live_server.url}/v1/documents/{added['id']}").status_code == 200
        assert httpx.delete(f"{live_server.url}/v1/documents/{added['id']}",
                            headers=headers).status_code == 204


def test_mcp_route_passes_the_guard(live_server: LiveServer) -> None:
    # A browser page of another site cannot call the tools (api.guard, as on every route).
    r = httpx.post(f"{live_server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                   headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
