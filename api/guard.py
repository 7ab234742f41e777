"""What every request passes before a router sees it: a body-size limit enforced as the body
streams in (413), a JSON or multipart content type on writes and questions (415), and no
state-changing request from another site's page (403). All refusals are the API's JSON error
(in OpenAI's shape on the OpenAI-compatible routes, so their clients show it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.openai_schemas import openai_error, speaks_openai
from qa.settings import Settings

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_UPLOAD_PATHS = ("/v1/documents",)
_MCP_PATH = "/mcp"  # its add_document carries a whole article: the upload limit
_FEEDS_PATH = "/v1/feeds"  # a feed's XML may come inline: the upload limit
NOT_RUNNING = "the service is not running (its start-up has not run, or it has shut down)"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its limit (an HTTPException, so body
    parsing passes it on as the 413 it is)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than {limit} bytes")


async def _error(send: Send, status: int, message: str, path: str = "") -> None:
    payload = openai_error(status, message) if speaks_openai(path) else {"error": message}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def route_exists(scope: Scope) -> bool:
    """Whether the application (scope["app"]) has a route for this method and path."""
    app = scope.get("app")
    if app is None:
        return True
    probe = {"type": "http", "path": scope["path"], "method": scope["method"], "root_path": ""}
    return any(route.matches(probe)[0] == Match.FULL for route in app.routes)


def cross_site(scope: Scope, allowed_origins: list[str]) -> bool:
    """Whether a browser says this request comes from another site's page: Sec-Fetch-Site
    cross-site/same-site, or an Origin whose host is not the one the request was sent to (and
    is not allowed by QA_ALLOWED_ORIGINS). Non-browser clients send neither and pass."""
    fetch_site = _header(scope, b"sec-fetch-site").lower()
    origin = _header(scope, b"origin")
    if origin and origin.rstrip("/") in allowed_origins:
        return False
    if fetch_site in ("cross-site", "same-site"):
        return True
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() != _header(scope, b"host").lower()
    return origin == "null"


class RequestGuard:
    """ASGI middleware. `settings` gives the running app's settings (read per request: a test
    may swap them), or None while the app is not running (its lifespan has not started or has
    ended): then reads pass (the docs and the page need no service; routes that do answer 503,
    api/deps.py) and writes are refused (503) before their body is read."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings | None]):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        method, path = scope["method"], scope["path"]
        if settings is None:
            if method in ("GET", "HEAD"):
                await self.app(scope, receive, send)
            else:
                await _error(send, 503, NOT_RUNNING, path)
            return
        upload = path.startswith(_UPLOAD_PATHS)
        large = upload or path in (_MCP_PATH, _FEEDS_PATH)
        limit = settings.max_upload_bytes if large else settings.max_request_bytes
        if method in _WRITES:
            if cross_site(scope, settings.allowed_origins):
                await _error(send, 403, "cross-site request refused: send it from this site's "
                             "page or a non-browser client", path)
                return
            content_type = _header(scope, b"content-type").split(";")[0].strip().lower()
            allowed = ("application/json", "multipart/form-data") if upload else ("application/json",)
            # Only where a route takes this method: elsewhere the router answers 404/405.
            if method != "DELETE" and content_type not in allowed and route_exists(scope):
                await _error(send, 415, f"Content-Type must be {' or '.join(allowed)}"
                             f" (got {content_type or 'none'})", path)
                return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await _error(send, 413, f"request body is larger than {limit} bytes", path)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
