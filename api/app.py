"""The FastAPI application: routers, JSON errors, start-up warm-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.guard import RequestGuard, route_exists
from api.routers import ask, conversations, documents, health, pages, stream
from qa.chat import get_chat_service
from qa.conversations import ConversationNotFound
from qa.corpus import DocumentError, DocumentTooLarge
from qa.loaders import LoadError
from qa.service import QuestionError, get_service
from qa.settings import get_settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Load the models and check the index before taking requests.
    get_service(get_settings()).warm_up()
    get_chat_service(get_settings())  # opens (and migrates) the conversation store
    yield


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route of `app` takes at `path`."""
    return [m for m in ("DELETE", "GET", "PATCH", "POST", "PUT")
            if route_exists({"app": app, "path": path, "method": m})]


def create_app() -> FastAPI:
    app = FastAPI(
        title="Pressroom",
        version="0.1.0",
        description="Ask questions about news articles; answers cite the exact text.",
        lifespan=lifespan,
    )
    for router in (health.router, documents.router, ask.router, stream.router, pages.router,
                   conversations.router):
        app.include_router(router)
    app.add_middleware(RequestGuard, settings=get_settings)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path takes, not the first route's
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return JSONResponse({"error": "body is not valid JSON", "detail": errors}, 400)
        first = errors[0] if errors else {"loc": [], "msg": ""}
        where = ".".join(str(x) for x in first["loc"] if x != "body")
        return JSONResponse({"error": f"invalid request: {where}: {first['msg']}", "detail": errors},
                            422)

    @app.exception_handler(QuestionError)
    async def question_error(_: Request, exc: QuestionError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 422)

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
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": "internal error"}, 500)

    return app


app = create_app()
