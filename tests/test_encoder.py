"""The encoder's runtimes: ONNX gives the torch vectors, int8 close to them; the exports are cached
and repaired."""

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


def test_int8_export_is_close_to_full_precision_and_stored_under_its_own_name(
        tmp_path: Path, torch_vectors: np.ndarray) -> None:
    encoder = Encoder(runtime="onnx-int8", cache_dir=tmp_path)
    vectors = encoder.encode(TEXTS)  # exports, checks against torch, quantizes, checks again
    assert encoder.runtime == "onnx-int8"
    assert sorted(p.name.endswith("-int8.onnx") for p in tmp_path.glob("*.onnx")) == [False, True]
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.98 and not np.allclose(vectors, torch_vectors, atol=1e-4)
    full = Encoder(runtime="onnx", cache_dir=tmp_path)
    assert encoder.name == full.name + "-int8"  # never mixed with full-precision vectors
    # the question still finds its answer first among the texts
    assert np.argmax(vectors[1:] @ vectors[0]) == np.argmax(torch_vectors[1:] @ torch_vectors[0])

    (quantized,) = tmp_path.glob("*-int8.onnx")
    mtime = quantized.stat().st_mtime_ns
    again = Encoder(runtime="onnx-int8", cache_dir=tmp_path)
    np.testing.assert_allclose(again.encode(TEXTS), vectors, atol=1e-6)
    assert again._model is None and quantized.stat().st_mtime_ns == mtime  # reused

    quantized.write_bytes(b"not a model")
    repaired = Encoder(runtime="onnx-int8", cache_dir=tmp_path)
    np.testing.assert_allclose(repaired.encode(TEXTS), vectors, atol=1e-6)
    assert repaired.runtime == "onnx-int8" and quantized.stat().st_size > 1_000_000
