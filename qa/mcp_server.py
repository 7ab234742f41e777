"""Pressroom as a Model Context Protocol server (the official `mcp` SDK's MCPServer).

Tools with typed inputs and structured output: `ask` (an answer or null, its confidence and
citations exactly as /v1/ask gives them), `search` (passages with offsets and scores),
`get_document` and `add_document`; every stored document is also a resource,
`pressroom://documents/{id}` (its text).

`qa mcp` serves it over stdio, a local process the user started: every tool is allowed.
`qa serve` also serves it at /mcp (api/mcp_http.py), where the API's rules apply per call:
`add_document` needs `Authorization: Bearer <QA_API_KEY>` when a key is set (as POST
/v1/documents does), `ask` and `search` need it when QA_ASK_REQUIRES_KEY is set.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import Resource
from pydantic import BaseModel, Field

from qa.corpus import DocumentError
from qa.dates import DateError, parse_date
from qa.retriever import PassageFilter
from qa.service import QAService, QuestionError
from qa.settings import Settings, get_settings
from qa.types import Citation, NewDocument

log = logging.getLogger(__name__)

DOCUMENT_URI = "pressroom://documents/{document_id}"
INSTRUCTIONS = (
    "Pressroom answers questions about the news articles it stores, with citations to the exact "
    "text (character offsets into the document). `ask` gives a short answer or null when the "
    "articles do not say; `search` gives the passages; `get_document` the full text."
)

Question = Annotated[str, Field(min_length=1, max_length=get_settings().max_question_chars,
                                description="the question, standalone (no earlier context)")]
DocumentIds = Annotated[list[Annotated[str, Field(max_length=64)]] | None,
                        Field(max_length=get_settings().max_document_ids,
                              description="only search these documents")]
Date = Annotated[str | None, Field(description="an ISO date (2014-10-07), as a document's "
                                   "`published`")]


class AskResult(BaseModel):
    question: str
    answer: str | None = Field(..., description="null when the articles do not say")
    confidence: float
    # The service's own citations, so they are /v1/ask's field for field: `quote` is the
    # stored text at [start:end], the answer at [answer_start:answer_end] (null for the
    # closest passages of an abstention).
    citations: list[Citation]


class PassageResult(BaseModel):
    document_id: str
    passage_id: int
    title: str
    start: int = Field(..., description="character offset in the document's stored text")
    end: int
    text: str
    score: float
    similarity: float | None = None
    probability: float | None = None


class SearchResult(BaseModel):
    query: str
    passages: list[PassageResult]


class DocumentResult(BaseModel):
    id: str
    title: str
    url: str | None
    published: str | None
    passages: int
    created_at: str
    characters: int
    text: str


class AddedDocument(BaseModel):
    id: str
    title: str
    passages: int
    created: bool = Field(..., description="false when the same text was already stored")


def key_accepted(headers: Mapping[str, str] | None, key: str | None) -> bool:
    """Whether a call may proceed under `key`: over stdio (no headers) always; over HTTP only
    with `Authorization: Bearer <key>` when a key is set."""
    if headers is None or not key:
        return True
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(),
                                                                 key.encode())


def _filter(document_ids: list[str] | None, published_from: str | None,
            published_to: str | None) -> PassageFilter:
    try:
        return PassageFilter(document_ids, published_from and parse_date(published_from),
                             published_to and parse_date(published_to))
    except DateError as exc:
        raise ToolError(str(exc)) from exc


class PressroomMCP(MCPServer[Any]):
    """MCPServer whose resource list is the stored documents (read when listed, so documents
    added by any process appear)."""

    def __init__(self, service: QAService):
        super().__init__("pressroom", instructions=INSTRUCTIONS, log_level="WARNING")
        self.qa_service = service

    async def list_resources(self) -> list[Resource]:
        documents = await anyio.to_thread.run_sync(self.qa_service.corpus.documents)
        return [Resource(uri=DOCUMENT_URI.format(document_id=d.id), name=d.id, title=d.title,
                         description=f"{d.title} ({d.published or 'undated'})",
                         mime_type="text/plain", size=len(d.text.encode()))
                for d in documents] + await super().list_resources()


def build_server(service: QAService, settings: Callable[[], Settings]) -> PressroomMCP:
    """A new server over `service` (one per transport: an HTTP session manager runs once per
    server). `settings` is read per call, for its API key: over HTTP the app's current
    settings, the very service the app's routers use (api/mcp_http.py)."""
    server = PressroomMCP(service)

    def allow(ctx: Context, write: bool) -> None:
        s = settings()
        if (write or s.ask_requires_key) and not key_accepted(ctx.headers, s.api_key):
            raise ToolError("a valid API key is required: Authorization: Bearer <key>")

    @server.tool()
    async def ask(question: Question, ctx: Context, document_ids: DocumentIds = None,
                  published_from: Date = None, published_to: Date = None) -> AskResult:
        """Answer a question from the stored articles with citations to the exact text; the
        answer is null when the articles do not say (the citations are then the closest
        passages)."""
        allow(ctx, write=False)
        where = _filter(document_ids, published_from, published_to)
        try:
            answer = await anyio.to_thread.run_sync(
                lambda: service.ask(question, None, where))
        except QuestionError as exc:
            raise ToolError(str(exc)) from exc
        return AskResult(question=answer.question, answer=answer.answer,
                         confidence=answer.confidence,
                         citations=answer.citations)

    @server.tool()
    async def search(query: Question, ctx: Context,
                     top_k: Annotated[int, Field(ge=1, le=50)] = 5,
                     document_ids: DocumentIds = None, published_from: Date = None,
                     published_to: Date = None) -> SearchResult:
        """The passages that best match a query, best first, with character offsets into
        their document's stored text and retrieval scores."""
        allow(ctx, write=False)
        where = _filter(document_ids, published_from, published_to)
        try:
            query = service.validate_question(query)
        except QuestionError as exc:
            raise ToolError(str(exc)) from exc
        passages = await anyio.to_thread.run_sync(lambda: service.search(query, top_k, where))
        return SearchResult(query=query, passages=[
            PassageResult(document_id=p.document_id, passage_id=p.passage_id, title=p.title,
                          start=p.start, end=p.end, text=p.text, score=p.score,
                          similarity=p.similarity, probability=p.probability)
            for p in passages[:top_k]])

    @server.tool()
    async def get_document(document_id: Annotated[str, Field(max_length=64)]) -> DocumentResult:
        """A stored document with its full text (all offsets point into it)."""
        d = await anyio.to_thread.run_sync(service.corpus.document, document_id)
        if d is None:
            raise ToolError(f"no document with id {document_id!r}")
        return DocumentResult(id=d.id, title=d.title, url=d.url, published=d.published,
                              passages=d.passage_count, created_at=d.created_at,
                              characters=len(d.text), text=d.text)

    @server.tool()
    async def add_document(title: Annotated[str, Field(min_length=1, max_length=1000)],
                           text: Annotated[str, Field(min_length=1)], ctx: Context,
                           url: Annotated[str | None, Field(max_length=2048)] = None,
                           published: Date = None) -> AddedDocument:
        """Add an article (its text as it should be stored and cited). Adding the same text
        again returns the stored document with created false."""
        allow(ctx, write=True)
        try:
            date = parse_date(published) if published else None
        except DateError as exc:
            raise ToolError(str(exc)) from exc
        try:
            result = (await anyio.to_thread.run_sync(
                service.add_documents, [NewDocument(title, text, url, date)]))[0]
        except DocumentError as exc:
            raise ToolError(str(exc)) from exc
        d = result.document
        return AddedDocument(id=d.id, title=d.title, passages=d.passage_count,
                             created=result.created)

    @server.resource(DOCUMENT_URI, mime_type="text/plain", title="A stored article")
    async def document_text(document_id: str) -> str:
        """The stored text of a document (citations' offsets point into it)."""
        d = await anyio.to_thread.run_sync(service.corpus.document, document_id)
        if d is None:
            raise ResourceNotFoundError(f"no document with id {document_id!r}")
        return d.text

    return server


def serve_stdio(settings: Settings | None = None) -> None:
    """`qa mcp`: the server over stdin/stdout (one process, one service), models loaded
    first."""
    current = settings or get_settings()
    service = QAService(current)
    server = build_server(service, lambda: current)
    # stdout carries the protocol: anything a library prints while loading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        service.warm_up()
    log.info("MCP server ready on stdio")
    server.run("stdio")
