from pathlib import Path

import numpy as np
import pytest

from embeddings.faiss_index import VectorIndex


def unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("threshold", [10_000, 100])  # flat, then IVF
def test_search_filter_remove_and_atomic_save(tmp_path: Path, threshold: int) -> None:
    vectors = unit(4000, 16)
    ids = np.arange(1000, 5000)
    index = VectorIndex(16, ivf_threshold=threshold, nprobe=64)
    index.rebuild(ids, vectors)
    assert index.kind == ("ivf" if threshold == 100 else "flat")
    assert index.search(vectors[5], 1)[0][0] == 1005
    only = index.search(vectors[5], 3, allowed=[1010, 1020])
    assert {i for i, _ in only} <= {1010, 1020} and only
    index.remove([1005])
    assert 1005 not in index.ids() and len(index) == 3999
    assert all(i != 1005 for i, _ in index.search(vectors[5], 5))
    path = tmp_path / "x.faiss"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["x.faiss"]
    loaded = VectorIndex.load(path, 16, ivf_threshold=threshold)
    assert loaded.ids() == index.ids() and loaded.kind == index.kind
    with pytest.raises(ValueError, match="dimension"):
        VectorIndex.load(path, 8)


def test_an_exact_index_grown_by_adds_becomes_ivf_at_the_threshold() -> None:
    vectors = unit(3000, 16, seed=1)
    ids = np.arange(10, 3010)
    index = VectorIndex(16, ivf_threshold=2000, nprobe=64)
    index.rebuild(ids[:1500], vectors[:1500])
    index.add(ids[1500:1900], vectors[1500:1900])
    assert index.kind == "flat" and len(index) == 1900
    index.add(ids[1900:], vectors[1900:])  # crosses 2,000
    assert index.kind == "ivf" and len(index) == 3000 and index.ids() == set(ids.tolist())
    for row in (0, 1700, 2999):  # from the first build, an earlier add and the crossing add
        assert index.search(vectors[row], 1)[0][0] == ids[row]


def test_saves_at_once_each_replace_the_file_whole(tmp_path: Path) -> None:
    # a server and `qa ingest` may save the same index file at the same moment
    import threading

    rng = np.random.default_rng(0)
    index = VectorIndex(8)
    index.add(np.arange(50), rng.standard_normal((50, 8)).astype(np.float32))
    path = tmp_path / "passages.faiss"
    errors: list[BaseException] = []

    def save_often() -> None:
        try:
            for _ in range(40):
                index.save(path)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=save_often) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(VectorIndex.load(path, 8)) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["passages.faiss"]


def test_a_stale_temporary_file_of_a_killed_save_is_removed(tmp_path: Path) -> None:
    import os
    import time

    index = VectorIndex(8)
    path = tmp_path / "passages.faiss"
    left = tmp_path / "passages.faiss.abc123.tmp"  # a save killed two hours ago
    left.write_bytes(b"partial")
    os.utime(left, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / "passages.faiss.def456.tmp"  # another process saving right now
    fresh.write_bytes(b"partial")
    index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passages.faiss", fresh.name]
