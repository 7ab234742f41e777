"""Shared dependencies: the process singletons the app's lifespan put on `app.state` (the
settings, the QAService, the ChatService) and the API-key checks. Routers take what they need
from here, never from one another."""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from fastapi import Depends, Header, HTTPException, Request

from api.guard import NOT_RUNNING
from qa.chat import ChatService
from qa.service import QAService
from qa.settings import Settings


def _running(request: Request, name: str) -> object:
    try:
        return getattr(request.app.state, name)
    except AttributeError:  # the lifespan has not run (or has ended): nothing to answer with
        raise HTTPException(503, NOT_RUNNING) from None


def settings_dep(request: Request) -> Settings:
    return cast(Settings, _running(request, "settings"))


def service_dep(request: Request) -> QAService:
    return cast(QAService, _running(request, "service"))


def chat_service_dep(request: Request) -> ChatService:
    """The chat service (shared by POST /v1/ask, the stream and /v1/conversations)."""
    return cast(ChatService, _running(request, "chat"))


Chat = Annotated[ChatService, Depends(chat_service_dep)]
CurrentSettings = Annotated[Settings, Depends(settings_dep)]


def _check_key(settings: Settings, authorization: str | None) -> None:
    if not settings.api_key:
        return
    scheme, _, token = (authorization or "").partition(" ")
    given, expected = token.strip().encode(), settings.api_key.encode()
    if scheme.lower() != "bearer" or not secrets.compare_digest(given, expected):
        raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})


def require_write_key(settings: CurrentSettings, authorization: str | None = Header(None)) -> None:
    _check_key(settings, authorization)


def require_ask_key(settings: CurrentSettings, authorization: str | None = Header(None)) -> None:
    if settings.ask_requires_key:
        _check_key(settings, authorization)
