"""The MCP server (qa/mcp_server.py) at /mcp over streamable HTTP, inside the API's app.

Requests pass api.guard first like every route (body limit, JSON, no cross-site browser
request), so the SDK's own Host/Origin check is off: the guard is the one rule for the whole
server. Each call is its own request (stateless, JSON responses): no session to lose between
workers, and the tools need no server-to-client messages. The SDK's session manager runs once
per server, so each run of the app's lifespan builds a fresh one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.mcp_server import build_server
from qa.service import QAService
from qa.settings import Settings

PATH = "/mcp"


class MCPEndpoint:
    """An ASGI app for PATH that hands each request to the MCP server of the running lifespan."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def running(self, service: QAService, settings: Callable[[], Settings]
                      ) -> AsyncIterator[None]:
        """Serve the tools from the app's own `service` (the routers' instance), under the
        app's current `settings` (its API key)."""
        server = build_server(service, settings)
        app = server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, json_response=True,
            max_request_body_size=settings().max_upload_bytes,  # add_document carries a text
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        async with server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            body = json.dumps({"error": "the MCP server is not running"}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)
