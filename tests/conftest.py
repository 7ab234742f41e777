"""Shared fixtures. Everything runs offline on the real models, index and SQLite."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The encoder's ONNX export goes to a folder of this test run, not the user's cache.
os.environ.setdefault("QA_MODEL_CACHE_DIR", tempfile.mkdtemp(prefix="qa-test-models-"))

ROOT = Path(__file__).resolve().parents[1]
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
