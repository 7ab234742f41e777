"""`qa bench` smoke test: a tiny run and the shape of its JSON (no timing asserts: timing lives
in `qa bench` itself)."""

from __future__ import annotations

import json
from pathlib import Path

from eval.bench import squad_workload, synthetic_vocabulary, synthetic_workload
from eval.bench_cli import main as bench_main
from qa.settings import get_settings

SIZE_KEYS = {
    "name", "documents", "passages", "reader", "ingest_s", "ingest_passages_per_s", "encoder_s",
    "encoder_passages_per_s", "questions", "ask_ms", "ready_warm_s", "ready_cold", "rss_mb",
    "peak_rss_mb", "chat_ask_ms", "chat_overhead_p50_ms", "chat_analysis_ms",
}


def test_synthetic_corpus_is_deterministic() -> None:
    settings = get_settings()
    a = synthetic_workload(10, 3, settings)
    assert a == synthetic_workload(10, 3, settings)
    assert len(a.documents) == 5 and len(a.questions) == 3
    lines = a.documents[0].text.split("\n")
    assert len(lines) == 2 * (settings.sentences_per_passage - settings.passage_overlap) + \
        settings.passage_overlap
    # The same words on every machine and in every session (bench numbers compare across
    # runs only on the same workload): pinned, not compared with a second call.
    assert synthetic_vocabulary()[:5] == ["koda", "giduma", "zo", "na", "zagedu"]
    assert synthetic_vocabulary(seed=8)[:5] != synthetic_vocabulary()[:5]
    assert len(set(synthetic_vocabulary())) == 3000


def test_squad_workload(tmp_path: Path) -> None:
    data = {"data": [{"title": "A_b", "paragraphs": [
        {"context": f"Paragraph {i}.", "qas": [{"id": str(i), "question": f"Q{i}?",
                                                 "answers": []}]} for i in range(6)]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    w = squad_workload(path, 3, paragraphs=4)
    assert len(w.documents) == 4 and w.documents[0].title == "A b"
    assert w.questions == ["Q0?", "Q1?", "Q2?"]


def test_bench_smoke_json_shape(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = bench_main(["--sizes", "sample,synthetic", "--synthetic-passages", "6",
                       "--questions", "2", "--reader", "rules", "--no-cold-start",
                       "--out", str(out), "-q"])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result) == {"command", "machine", "settings", "sizes"}
    assert [s["name"] for s in result["sizes"]] == ["sample", "synthetic"]
    for size in result["sizes"]:
        assert set(size) == SIZE_KEYS
        assert size["passages"] > 0 and size["questions"] == 2
        assert size["chat_ask_ms"]["count"] == 2 and size["chat_ask_ms"]["p50"] > 0
        assert size["ask_ms"]["total"]["count"] == 2
        # earlier turns are analysed only when a later question needs them: at most the
        # second of the two chat turns; the sample's second question stands alone
        assert size["chat_analysis_ms"]["count"] <= 1
        if size["name"] == "sample":
            assert size["chat_analysis_ms"]["count"] == 0
        assert size["ready_cold"] is None
        assert set(size["ask_ms"]) == {"total", "stages"}
        assert {"p50", "p95"} <= set(size["ask_ms"]["total"])
        assert {"retrieve", "read"} <= set(size["ask_ms"]["stages"])
        assert size["peak_rss_mb"] > 0
    assert "api_key" not in result["settings"]


def test_bench_rejects_unknown_sizes(tmp_path: Path) -> None:
    assert bench_main(["--sizes", "huge", "--out", str(tmp_path / "b.json")]) == 2


def test_ingest_bench_smoke_json_shape(tmp_path: Path) -> None:
    data = {"data": [{"title": "Harbour_news", "paragraphs": [
        {"context": f"The ferry number {i} left the harbour on Monday. It carried {i} cars.",
         "qas": []} for i in range(3)]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "ingest.json"
    assert bench_main(["--ingest", "--squad", str(path), "--out", str(out)]) == 0
    result = json.loads(out.read_text())["ingest"]
    assert result["documents"] == 3 and result["passages"] == 3
    assert result["sentence_inputs"] == 6  # each paragraph's two sentences, not its passage
    assert set(result["ingest_stages_s"]) == {"parse", "load_models", "prepare", "split",
                                              "encode", "store"}
    assert result["peak_rss_mb"] > 0 and result["speedup_vs_st_passages"] > 0
    assert result["command"].startswith("qa bench --ingest")


def test_ingest_bench_skips_without_squad(tmp_path: Path) -> None:
    assert bench_main(["--ingest", "--squad", str(tmp_path / "missing.json"),
                       "--out", str(tmp_path / "x.json")]) == 0
    assert not (tmp_path / "x.json").exists()
