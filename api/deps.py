"""Shared dependencies: the service and API-key checks."""

from __future__ import annotations

import secrets

from fastapi import Depends, Header, HTTPException

from qa.service import QAService, get_service
from qa.settings import Settings, get_settings


def settings_dep() -> Settings:
    return get_settings()


def service_dep(settings: Settings = Depends(settings_dep)) -> QAService:
    return get_service(settings)


def _check_key(settings: Settings, authorization: str | None) -> None:
    if not settings.api_key:
        return
    scheme, _, token = (authorization or "").partition(" ")
    given, expected = token.strip().encode(), settings.api_key.encode()
    if scheme.lower() != "bearer" or not secrets.compare_digest(given, expected):
        raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})


def require_write_key(settings: Settings = Depends(settings_dep),
                      authorization: str | None = Header(None)) -> None:
    _check_key(settings, authorization)


def require_ask_key(settings: Settings = Depends(settings_dep),
                    authorization: str | None = Header(None)) -> None:
    if settings.ask_requires_key:
        _check_key(settings, authorization)
