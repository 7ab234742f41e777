"""The encoder's two runtimes give the same vectors; the ONNX export is cached and repaired."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder

TEXTS = [
    "Where did they meet?",
    "Hamas leader Khaled Mashaal met Qassem Soleimani, the commander of the al-Quds Force, "
    "in Turkey, the Saudi daily Al-Hayat reported on Tuesday.",
    "a",
    # over the model's 256-token limit: both runtimes must truncate the same way
    " ".join(["The delegation asked to open an office in Beirut."] * 60),
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return Encoder(runtime="torch").encode(TEXTS)


def test_onnx_runtime_matches_torch_and_reuses_its_export(tmp_path: Path,
                                                          torch_vectors: np.ndarray) -> None:
    first = Encoder(runtime="onnx", cache_dir=tmp_path, batch_size=3)
    vectors = first.encode(TEXTS)  # exports, checks against torch, then encodes
    assert first.runtime == "onnx"
    exported = list(tmp_path.glob("*.onnx"))
    assert len(exported) == 1
    # batching (3 per batch, sorted by length, padded) changes nothing
    np.testing.assert_allclose(vectors, torch_vectors, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert first.dimension == torch_vectors.shape[1]

    mtime = exported[0].stat().st_mtime_ns
    again = Encoder(runtime="onnx", cache_dir=tmp_path)
    np.testing.assert_allclose(again.encode(TEXTS[:2]), torch_vectors[:2], atol=1e-5)
    assert again._model is None  # the cached export needs no torch model
    assert exported[0].stat().st_mtime_ns == mtime


def test_a_damaged_export_is_made_again(tmp_path: Path, torch_vectors: np.ndarray) -> None:
    Encoder(runtime="onnx", cache_dir=tmp_path).encode(TEXTS[:1])
    (path,) = tmp_path.glob("*.onnx")
    path.write_bytes(b"not a model")
    repaired = Encoder(runtime="onnx", cache_dir=tmp_path)
    np.testing.assert_allclose(repaired.encode(TEXTS), torch_vectors, atol=1e-5)
    assert repaired.runtime == "onnx" and path.stat().st_size > 1_000_000


def test_an_unusable_cache_falls_back_to_torch(tmp_path: Path, torch_vectors: np.ndarray) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    encoder = Encoder(runtime="onnx", cache_dir=blocked)
    np.testing.assert_allclose(encoder.encode(TEXTS), torch_vectors, atol=1e-6)
    assert encoder.runtime == "torch"
