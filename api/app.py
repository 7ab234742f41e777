"""The FastAPI application: routers, the MCP server at /mcp, JSON errors (OpenAI's shape on the
OpenAI-compatible routes), start-up warm-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from api.guard import RequestGuard, route_exists
from api.mcp_http import PATH as MCP_PATH
from api.mcp_http import MCPEndpoint
from api.openai_schemas import openai_error, speaks_openai
from api.routers import ask, conversations, documents, feeds, health, openai_compat, pages, stream
from embeddings.encoder import Encoder
from qa.chat import open_chat
from qa.corpus import DocumentError, DocumentTooLarge
from qa.loaders import LoadError
from qa.reader import Reader
from qa.service import QAService, QuestionError
from qa.settings import Settings, get_settings
from qa.storage.conversations import ConversationNotFound

log = logging.getLogger(__name__)


def lifespan_with(mcp: MCPEndpoint, settings: Settings | None, encoder: Encoder | None,
                  reader: Reader | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's process singletons, built once per run of the app and kept on `app.state`:
    `settings`, `service` (the QAService) and `chat` (the ChatService over it); every router and
    /mcp use these (api/deps.py), whatever the request's API key."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = settings or get_settings()
        service = QAService(current, encoder=encoder, reader=reader)
        service.warm_up()  # models loaded and the index checked before taking requests
        chat = open_chat(service)  # opens (and migrates) the conversation store
        app.state.settings, app.state.service, app.state.chat = current, service, chat
        try:
            async with mcp.running(service, lambda: app.state.settings):
                yield
        finally:
            # Requests after shutdown are refused (api.guard) rather than reaching closed stores.
            del app.state.settings, app.state.service, app.state.chat
            chat.close()
            service.close()

    return lifespan


def error_response(request: Request, status: int, message: str, detail: Any = None,
                   param: str | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """The API's JSON error, or OpenAI's error shape on the OpenAI-compatible routes."""
    if speaks_openai(request.url.path):
        return JSONResponse(openai_error(status, message, param), status, headers=headers)
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route of `app` takes at `path`."""
    return [m for m in ("DELETE", "GET", "PATCH", "POST", "PUT")
            if route_exists({"app": app, "path": path, "method": m})]


def openai_message(errors: Any) -> str:
    """A validation error said as OpenAI says it: an unknown field as an unrecognized
    argument, a refusal (tools, images, n > 1) in its own words, else where and what."""
    first = dict(errors[0]) if errors else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
    if first.get("type") == "extra_forbidden":
        return f"Unrecognized request argument supplied: {where}"
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def create_app(settings: Settings | None = None, *, encoder: Encoder | None = None,
               reader: Reader | None = None) -> FastAPI:
    """The API. Its lifespan builds the process singletons (api/deps.py reads them) from
    `settings`, or from the environment's (qa.settings.get_settings, read when the app starts)
    when None. `encoder` and `reader` replace the models the settings name, as in
    `QAService(settings, encoder=..., reader=...)`: the fast test tier runs the real app on
    small fake models this way."""
    mcp = MCPEndpoint()
    app = FastAPI(
        title="Pressroom",
        version="0.1.0",
        description="Ask questions about news articles; answers cite the exact text. Also "
        "OpenAI-compatible chat (/v1/chat/completions) and an MCP server (/mcp).",
        lifespan=lifespan_with(mcp, settings, encoder, reader),
    )
    for router in (health.router, documents.router, feeds.router, ask.router, stream.router,
                   pages.router, conversations.router, openai_compat.router):
        app.include_router(router)
    app.router.routes.append(Route(MCP_PATH, mcp, include_in_schema=False))  # an ASGI app: any method
    app.add_middleware(RequestGuard, settings=lambda: getattr(app.state, "settings", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path takes, not the first route's
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return error_response(request, exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return error_response(request, 400, "body is not valid JSON", errors)
        first = errors[0] if errors else {"loc": [], "msg": ""}
        where = ".".join(str(x) for x in first["loc"] if x != "body")
        if speaks_openai(request.url.path):  # OpenAI refuses a bad request with a 400
            return error_response(request, 400, openai_message(exc.errors()), param=where or None)
        return error_response(request, 422, f"invalid request: {where}: {first['msg']}", errors)

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError) -> JSONResponse:
        return error_response(request, 400 if speaks_openai(request.url.path) else 422, str(exc),
                              param="messages")

    @app.exception_handler(ConversationNotFound)
    async def conversation_not_found(_: Request, exc: ConversationNotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(DocumentError)
    async def document_error(_: Request, exc: DocumentError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 413 if isinstance(exc, DocumentTooLarge) else 422)

    @app.exception_handler(LoadError)
    async def load_error(_: Request, exc: LoadError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(request, 500, "internal error")

    return app


app = create_app()
