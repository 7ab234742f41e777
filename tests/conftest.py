"""Shared fixtures. Everything runs offline on the real models, index and SQLite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.service import QAService
    from qa.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
# The encoder's ONNX export goes to the checkout's own (git-ignored) cache, not the user's, and
# is reused by every later run: it is named after the model files it came from, and written to a
# temporary file then renamed into place, so test processes running at once never read half a
# file (embeddings/encoder.py).
os.environ.setdefault("QA_MODEL_CACHE_DIR", str(ROOT / ".cache" / "test-models"))
SAMPLE = ROOT / "sample" / "hamas-leader-met-iran-commander.txt"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def api_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """QA_* environment for an app under test: a fresh data dir, settings cache cleared."""
    from qa.settings import get_settings

    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_DATA_DIR", str(data_dir))
        mp.delenv("QA_API_KEY", raising=False)
        get_settings.cache_clear()
        yield data_dir
    get_settings.cache_clear()


SAMPLE_TITLE = "Report: Hamas leader met with top Iran commander"


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    document_id: str  # the sample article's
    data_dir: Path
    app: FastAPI  # the app it serves (its singletons on app.state)


@pytest.fixture(scope="module")
def live_server(api_env: Path, sample_text: str) -> Iterator[LiveServer]:
    """The real app (lifespan, models, /mcp) served by uvicorn on a loopback port in this
    process, with the sample article added: for the real OpenAI and MCP clients."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 300  # the lifespan loads the models
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        added = httpx.post(f"{url}/v1/documents", json={"title": SAMPLE_TITLE, "text": sample_text},
                           timeout=120)
        assert added.status_code == 201, added.text
        yield LiveServer(url, added.json()["id"], api_env, app)
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def app_settings(app: FastAPI, **update: Any) -> Iterator[Settings]:
    """A running app's settings changed for the block (an API key, say); the app keeps its
    singletons, as a server keeps them whatever key a request carries."""
    before = app.state.settings
    app.state.settings = before.model_copy(update=update)
    try:
        yield app.state.settings
    finally:
        app.state.settings = before


@contextmanager
def counting_encoder(service: QAService) -> Iterator[list[int]]:
    """Record how many texts the real encoder is asked to embed."""
    encoder = service.corpus.encoder
    calls: list[int] = []
    original = encoder.encode

    def counting(texts: list[str], progress: bool = False) -> np.ndarray:
        calls.append(len(texts))
        return original(texts, progress)

    encoder.encode = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del encoder.encode
