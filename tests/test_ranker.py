"""The learned re-scorer: its lexical signals agree with the FTS5 index, its features mean what
they say, the shipped model loads, and the service ranks with it by default."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings.splitter import PassageSpan, TextSpan
from qa.loaders import load_paths
from qa.ranker import (
    DEFAULT_RANKER,
    FEATURE_SETTINGS,
    FEATURES,
    LinearRanker,
    QueryTerms,
    candidate_features,
    terms,
)
from qa.retriever import rescore_learned
from qa.service import QAService
from qa.settings import Settings
from qa.storage.documents import DocumentStore
from qa.types import NewDocument, RetrievedPassage


def stored(folder: Path, texts: list[str]) -> DocumentStore:
    folder.mkdir(parents=True, exist_ok=True)
    store = DocumentStore(folder / "store.sqlite3")
    for i, text in enumerate(texts):
        span = PassageSpan(0, 0, len(text), (TextSpan(0, len(text)),))
        store.add_document(title=f"t{i}", text=text, url=None, published=None, passages=[span],
                           vectors=np.zeros((1, 4), np.float32), input_hashes=[f"h{i}"],
                           model="m")
    return store


def test_terms_are_the_terms_the_lexical_index_stores(tmp_path: Path) -> None:
    # short words (not stemmed by FTS5), possessives, accents, underscores, "-ology", "-ibly"
    text = ("Possibly the Café's technology is run by foo_bar at U.S. sites; naïve as us. "
            "The dogs were running in Turkey's hills, irreversibly.")
    store = stored(tmp_path / "one", [text])
    with sqlite3.connect(store.path) as conn:
        indexed = {r[0] for r in conn.execute("SELECT term FROM passages_vocab")}
    store.close()
    assert set(terms(text)) == indexed
    assert terms("Turkey's technology") == ["turkei", "s", "technolog"]
    store = stored(tmp_path / "two", [text, "A dog ran home."])
    counts = store.term_passage_counts(terms("Running dogs, Turkey hills"))
    assert counts == {"run": 1, "dog": 2, "turkei": 1, "hill": 1}
    assert store.term_passage_counts(terms("zeppelin")) == {}
    store.close()


def test_overlap_weighs_rare_words_over_common_ones() -> None:
    query = QueryTerms.build("where did the summit meet", lambda ts: {"the": 99, "did": 90,
                                                                      "where": 50, "summit": 1,
                                                                      "meet": 10}, 100)
    rare = query.overlap(set(terms("The summit was held")))
    common = query.overlap(set(terms("Where did the others go")))
    assert 0 < common < rare < 1
    assert query.overlap(set(terms("where did the summit meet"))) == pytest.approx(1.0)
    # "the summit" and "summit meet(s)": 2 of the 4 bigrams
    assert query.bigram_overlap(terms("the summit meets today")) == pytest.approx(2 / 4)
    # bigrams follow the question as written, repeated words included: 8 distinct pairs
    repeated = QueryTerms.build("who is the king of the north of the land", lambda ts: {}, 10)
    assert repeated.bigram_overlap(terms("the north")) == pytest.approx(1 / 8)


def passage(pid: int, text: str, score: float, similarity: float | None,
            sentences: tuple[tuple[int, int], ...]) -> RetrievedPassage:
    return RetrievedPassage(pid, f"d{pid}", "t", 0, len(text), text, score, sentences, similarity)


def test_features_describe_each_candidate() -> None:
    query = QueryTerms.build("where did Mashaal and Soleimani meet", lambda ts: {}, 100)
    first = "Talks went on. Nothing was said."
    second = "Mashaal and Soleimani met in Turkey. It rained."
    # the second passage starts at offset 100 of its document: sentence spans are document
    # offsets, so they must be shifted to slice the passage text
    fused = [passage(1, first, 1 / 61, 0.5, ((0, 14), (15, 32))),
             replace(passage(2, second, 1 / 62, None, ((100, 136), (137, 147))), start=100,
                     end=147),
             passage(3, "Mashaal spoke.", 1 / 63, 0.4, ())]  # no sentence spans: one sentence
    x = candidate_features(query, fused, bm25={2: 8.0}, rrf_k=60,
                           sentence_cosines={("d1", 0): 0.3, ("d2", 100): 0.7})
    f = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert x.shape == (3, len(FEATURES))
    assert f["fused_score"] == pytest.approx([60 / 61, 60 / 62, 60 / 63])
    assert f["log_fused_rank"] == pytest.approx([0.0, np.log(2), np.log(3)])
    # found only lexically: the dense floor (lowest cosine found) and a flag
    assert f["passage_cosine"].tolist() == [0.5, 0.4, 0.4]
    assert f["no_passage_cosine"].tolist() == [0, 1, 0]
    assert f["bm25"].tolist() == [0.0, 1.0, 0.0] and f["no_bm25"].tolist() == [1, 0, 1]
    # a sentence without a stored vector counts as the passage cosine
    assert f["best_sentence_cosine"].tolist() == [0.5, 0.7, 0.4]
    # equal IDF here: 3 of the 6 question words ("met" is not "meet"), 2 of its 5 bigrams
    assert f["best_sentence_overlap"].tolist() == pytest.approx([0.0, 0.5, 1 / 6])
    assert f["best_sentence_bigrams"].tolist() == pytest.approx([0.0, 0.4, 0.0])
    assert f["passage_overlap"].tolist() == pytest.approx([0.0, 0.5, 1 / 6])
    assert f["best_cosine_plus_overlap"][1] == pytest.approx(0.7 + 0.5)


def test_rescore_learned_orders_by_log_odds_and_reports_probabilities() -> None:
    fused = [passage(i, "x", 0.1, None, ()) for i in (1, 2, 3)]
    out = rescore_learned(fused, np.array([-1.0, 2.0, 0.0]))
    assert [p.passage_id for p in out] == [2, 3, 1]
    assert [p.score for p in out] == pytest.approx([1 / (1 + np.exp(-2)), 0.5, 1 / (1 + np.e)])


def test_shipped_ranker_loads_and_rejects_other_features(tmp_path: Path) -> None:
    ranker = LinearRanker.load(DEFAULT_RANKER)
    assert ranker.coef.shape == (len(FEATURES),) and np.isfinite(ranker.coef).all()
    # trained with the product's defaults
    defaults = Settings().model_dump(include=set(FEATURE_SETTINGS))
    assert set(ranker.trained_with) == set(FEATURE_SETTINGS) and ranker.mismatches(defaults) == []
    assert ranker.mismatches({**defaults, "candidates": 100}) == [
        "candidates=100 (trained with 50)"]
    data = json.loads(DEFAULT_RANKER.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="other features"):
        LinearRanker.load(other)


def test_reading_deeper_than_the_rescored_head_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="read_passages"):
        Settings(data_dir=tmp_path, read_passages=30)
    Settings(data_dir=tmp_path, read_passages=30, rescorer="sentence")  # no probabilities read


def test_service_ranks_with_the_learned_rescorer(tmp_path: Path, sample_path: Path) -> None:
    service = QAService(Settings(data_dir=tmp_path))
    assert service.settings.rescorer == "learned"
    service.add_documents(load_paths([sample_path]).documents)
    service.add_documents([NewDocument(title="Weather", text="Rain fell in Ankara, Turkey, on "
                                       "Monday. The meeting of farmers was cancelled.")])
    answer = service.ask("where did they meet?")
    assert "rescore" in answer.timings_ms and answer.answer in ("Turkey", "in Turkey")
    passages = service.retriever.retrieve("Where did Mashaal and Soleimani meet?", 5)
    assert "held a meeting in Turkey" in passages[0].text
    # scores are the model's probabilities, best first
    assert all(p.probability is not None and p.score == p.probability for p in passages)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    # the re-scored head does not depend on how deep the caller asks: with 3 candidates per
    # list, asking 3 or 10 deep must give the same top 3 (fusing 10-deep lists would add
    # deeper ranks to their RRF scores, and so change their features)
    service.retriever.settings = service.settings.model_copy(
        update={"candidates": 3, "rescore_candidates": 3})
    question = "Where did Mashaal and Soleimani meet?"
    shallow, deep = (service.retriever.retrieve(question, k) for k in (3, 10))
    assert len(deep) == 10 and [(p.passage_id, p.score) for p in deep[:3]] == [
        (p.passage_id, p.score) for p in shallow]
    # switched off: the fused order, RRF scores, no probabilities
    service.retriever.settings = service.settings.model_copy(update={"rescorer": "off"})
    off = service.retriever.retrieve("where did they meet?", 5)
    assert all(p.probability is None and p.score < 0.05 for p in off)
    service.close()


def test_reader_weighs_the_retrieval_probability_of_each_passage() -> None:
    from qa.reader import NeuralReader

    turkey = "Mashaal and Soleimani held a meeting in Turkey after the war."
    qatar = "The two leaders held a meeting in Qatar after the war."

    def read(weight: float, p_turkey: float, p_qatar: float) -> str:
        passages = [replace(passage(1, turkey, 0.5, None, ()), probability=p_turkey),
                    replace(passage(2, qatar, 0.5, None, ()), probability=p_qatar)]
        best = NeuralReader(retrieval_weight=weight).read("Where did they meet?", passages).best
        assert best is not None
        return (turkey, qatar)[best.passage_id - 1][best.answer_start : best.answer_end]

    # without the prior, the span scores alone decide, whatever retrieval thought
    alone = read(0.0, 0.99, 0.01)
    assert alone in ("Turkey", "Qatar") and read(0.0, 0.01, 0.99) == alone
    # with it, a passage retrieval trusts wins over one it doubts
    assert read(1.0, 0.99, 0.01) == "Turkey"
    assert read(1.0, 0.01, 0.99) == "Qatar"
