"""`qa eval beir` on a tiny hand-made BEIR-format set (and loading SciFact when shared data
exists)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.beir import (
    BeirDocument,
    as_new_document,
    document_ranking,
    evaluate,
    load_beir,
    read_qrels,
    retrieval_metrics,
    select_documents,
    select_queries,
)
from eval.eval_cli import main as eval_main
from qa.corpus import Corpus
from qa.retriever import Rescore
from qa.settings import get_settings
from qa.types import RetrievedPassage

ROOT = Path(__file__).parents[1]
SHARED = Path(os.environ.get("QA_SHARED_DATA", ROOT.parent / "shared" / "data"))

CORPUS = [
    {"_id": "d1", "title": "Pumps", "text": "Zorblat pumps move water uphill in dry farms."},
    {"_id": "d2", "title": "Bridges", "text": "The glass bridge of Tobbin was built in 1820."},
    {"_id": "d3", "title": "Same text", "text": "Zorblat pumps move water uphill in dry farms."},
    {"_id": "d4", "title": "", "text": "Quarnex kites fly over the northern hills in spring."},
    {"_id": "d5", "title": "", "text": ""},
    {"_id": "d6", "title": "Bakeries", "text": "Fresh rye bread is sold every morning in Vell."},
]
QUERIES = [
    {"_id": "q1", "text": "When was the Tobbin glass bridge built?"},
    {"_id": "q2", "text": "Which pumps move water uphill?"},
    {"_id": "q3", "text": "Where do Quarnex kites fly?"},
    {"_id": "q4", "text": "A query without judgements"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t1\nq2\td3\t2\nq3\td4\t1\nq3\td6\t0\n"


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tinybeir")
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in CORPUS) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(QRELS)
    return root


def test_load_and_select(beir_dir: Path) -> None:
    qrels = read_qrels(beir_dir / "qrels" / "test.tsv")
    assert "query-id" not in qrels  # header skipped
    assert qrels["q2"] == {"d1": 1, "d3": 2}
    data = load_beir(beir_dir)
    assert data.name == beir_dir.name and len(data.documents) == 6
    assert select_queries(data, None) == ["q1", "q2", "q3"]  # q4 has no judgements
    sample = select_queries(data, 2, seed=1)
    assert sample == select_queries(data, 2, seed=1) and len(sample) == 2
    docs = select_documents(data, ["q1"], max_docs=2, seed=0)
    assert len(docs) == 2 and "d2" in {d.id for d in docs}
    assert [d.id for d in docs] == sorted(d.id for d in docs)  # file order
    assert select_documents(data, ["q1"], None) == data.documents


def test_as_new_document_fallbacks() -> None:
    assert as_new_document(BeirDocument("d4", "", "text")) is not None
    assert as_new_document(BeirDocument("d4", "", "text")).title == "d4"  # type: ignore[union-attr]
    assert as_new_document(BeirDocument("d7", "Title only", "")).text == "Title only"  # type: ignore[union-attr]
    assert as_new_document(BeirDocument("d5", "", " ")) is None


def test_document_ranking_keeps_first_passage_rank_and_expands_duplicates() -> None:
    def p(doc: str, score: float) -> RetrievedPassage:
        return RetrievedPassage(0, doc, "t", 0, 1, "x", score)

    stored = {"s1": ["d1", "d3"], "s2": ["d2"], "s4": ["d4"]}
    ranking = document_ranking([p("s2", 0.9), p("s1", 0.8), p("s2", 0.7), p("s4", 0.1)], stored)
    assert ranking == ["d2", "d1", "d3", "d4"]


def test_retrieval_metrics_by_hand() -> None:
    qrels = {"a": {"x": 1, "y": 2}, "b": {"z": 1}}
    rankings = {"a": ["y", "n", "x"], "b": ["n", "m"]}
    m = retrieval_metrics(rankings, qrels)
    ideal = 2 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((2 + 1 / math.log2(4)) / ideal / 2)
    assert m["recall@10"] == pytest.approx(0.5)  # a: 2/2, b: 0/1
    assert m["mrr@10"] == pytest.approx(0.5)


def test_evaluate_end_to_end_with_ablation_rows(beir_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    base = get_settings().model_copy(update={"reader": "rules", "rescorer": "learned"})
    calls: dict[str, int] = {"sentences": 0, "learned": 0}
    cosines, features = Corpus.sentence_cosines, Rescore.features

    def counted_cosines(self: Corpus, passages: list, vector: np.ndarray
                        ) -> dict[tuple[str, int], float]:
        calls["sentences"] += 1
        return cosines(self, passages, vector)

    def counted_features(self: Rescore, *args: Any) -> np.ndarray:
        calls["learned"] += 1
        return features(self, *args)

    monkeypatch.setattr(Corpus, "sentence_cosines", counted_cosines)  # both re-scorers use it
    monkeypatch.setattr(Rescore, "features", counted_features)  # the learned one only
    evaluate(beir_dir, base, ["rrf-no-rescore"])
    assert calls == {"sentences": 0, "learned": 0}  # the ablation row really switches it off
    rows = ["rrf", "rrf-sentence", "rrf-no-rescore", "dense", "lexical"]
    metrics, runs = evaluate(beir_dir, base, rows)
    # one call per query: "rrf" runs the learned re-scorer, "rrf-sentence" the sentence one
    assert calls == {"sentences": 6, "learned": 3}
    assert metrics["queries"] == 3 and metrics["documents_indexed"] == 6
    assert set(metrics["rows"]) == set(rows)
    for row in metrics["rows"].values():
        for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
            assert 0.0 <= row[key] <= 1.0
        assert row["latency_ms"]["count"] == 3
    for fusion in ("rrf", "rrf-sentence", "rrf-no-rescore", "lexical"):
        assert runs[fusion]["q1"][0] == "d2"  # the one document with these words
        assert set(runs[fusion]["q2"][:2]) == {"d1", "d3"}  # same text, both ranked
    assert "d5" not in {d for r in runs["rrf"].values() for d in r}  # empty, left out


def test_cli_writes_metrics_and_report(beir_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert eval_main(["beir", str(beir_dir), "--fusion", "lexical", "--limit", "2",
                      "--out", str(out), "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["queries"] == 2 and list(metrics["rows"]) == ["lexical"]
    assert metrics["command"].startswith("qa eval beir")
    assert (out / "report.md").read_text().startswith("# BEIR retrieval")
    assert set(json.loads((out / "rankings.json").read_text())["lexical"]) <= {"q1", "q2", "q3"}


@pytest.mark.skipif(not (SHARED / "beir_scifact" / "corpus.jsonl").exists(),
                    reason="shared BEIR data absent")
def test_loads_scifact() -> None:
    data = load_beir(SHARED / "beir_scifact")
    assert len(data.documents) == 5183
    assert len(select_queries(data, None)) == 300
