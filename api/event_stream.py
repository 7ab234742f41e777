"""Server-Sent Events as both streaming routes send them (/v1/ask/stream and
/v1/chat/completions with `stream`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
"""A comment line is sent when the worker has been quiet this long (keeps proxies and the
page's stall detector from giving up on a slow first question)."""


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event; JSON keeps the data on a single line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class EventStreamResponse(StreamingResponse):
    """A streaming response for which a client that hangs up is normal, not an error."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (ClientDisconnect, OSError):
            log.info("client left the event stream early")
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
