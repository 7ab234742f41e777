"""Hand-computed checks of eval.metrics, plus published SQuAD numbers when shared data exists."""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path

import pytest

from eval.metrics import (  # noqa: E402
    exact_match,
    expected_calibration_error,
    f1,
    find_best_threshold,
    hit_rate_at_k,
    load_predictions,
    load_squad_golds,
    load_squad_golds_from_articles,
    max_over_golds,
    mrr_at_k,
    normalize_answer,
    reliability_bins,
    squad_scores,
    trec_measures,
)

# --------------------------------------------------------------------------- normalisation, EM, F1


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("The Broncos", "broncos"),
        ("a cat and an owl", "cat and owl"),
        ("Theatre", "theatre"),  # articles only as whole words
        ("Denver Broncos!", "denver broncos"),
        ("U.S.A.", "usa"),
        ("  lots \t of\n space  ", "lots of space"),
        ("Khaled\xa0Mashaal", "khaled mashaal"),
        ("", ""),
        ("the", ""),
    ],
)
def test_normalize_answer(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


def test_exact_match() -> None:
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Broncos", "Denver Broncos") == 0.0
    assert exact_match("", "") == 1.0


def test_f1() -> None:
    # pred tokens {denver, broncos, team}, gold {denver, broncos}: P=2/3, R=1
    assert f1("Denver Broncos team", "the Denver Broncos") == pytest.approx(0.8)
    assert f1("Broncos", "Denver Broncos") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1("Carolina Panthers", "Denver Broncos") == 0.0
    # repeated tokens count with multiplicity: common = {x: 1, y: 1}, P = R = 2/3
    assert f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1("", "") == 1.0
    assert f1("", "Denver") == 0.0
    assert f1("Denver", "") == 0.0


def test_max_over_golds() -> None:
    golds = ["Turkey", "in Turkey", "Ankara, Turkey"]
    assert max_over_golds(exact_match, "in Turkey", golds) == 1.0
    assert max_over_golds(f1, "Ankara", golds) == pytest.approx(2 / 3)
    assert max_over_golds(exact_match, "", []) == 1.0  # no golds: unanswerable
    assert max_over_golds(f1, "Turkey", []) == 0.0


# --------------------------------------------------------------------------- SQuAD v2.0 scoring


GOLDS = {"q1": ["Paris"], "q2": ["blue whale"], "q3": [], "q4": []}
PREDS = {"q1": "Paris", "q2": "whale", "q3": "London", "q4": ""}
NA_PROBS = {"q1": 0.1, "q2": 0.2, "q3": 0.3, "q4": 0.9}


def test_squad_scores_v2_abstention() -> None:
    s = squad_scores(GOLDS, PREDS)
    # exact: q1 1, q2 0, q3 0 (answered an unanswerable), q4 1 (abstained)
    assert s["exact"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)
    assert s["total"] == 4
    assert (s["HasAns_exact"], s["HasAns_total"]) == (50.0, 2)
    assert s["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert (s["NoAns_exact"], s["NoAns_f1"], s["NoAns_total"]) == (50.0, 50.0, 2)
    assert "best_f1" not in s


def test_squad_scores_missing_prediction_counts_as_abstention() -> None:
    s = squad_scores(GOLDS, {"q1": "Paris"})
    assert s["total"] == 4
    assert s["HasAns_exact"] == pytest.approx(50.0)  # q2 missing -> "" -> wrong
    assert s["NoAns_exact"] == pytest.approx(100.0)  # q3, q4 missing -> "" -> right


def test_squad_scores_extra_predictions_ignored_and_v1_has_no_noans() -> None:
    s = squad_scores({"a": ["x"]}, {"a": "x", "zzz": "y"})
    assert s == {
        "exact": 100.0,
        "f1": 100.0,
        "total": 1,
        "HasAns_exact": 100.0,
        "HasAns_f1": 100.0,
        "HasAns_total": 1,
    }


def test_squad_scores_empty_normalized_golds_are_dropped() -> None:
    # official v2: gold "The" normalises to "" and is dropped -> scored against "", yet HasAns
    s = squad_scores({"q": ["The", "."]}, {"q": ""})
    assert (s["exact"], s["HasAns_total"]) == (100.0, 1)
    s = squad_scores({"q": ["The", "Rome"]}, {"q": ""})
    assert s["exact"] == 0.0


def test_squad_scores_na_prob_threshold() -> None:
    # na_prob > 0.25 abstains: q3 (0.3) and q4 (0.9) become abstentions -> both right
    s = squad_scores(GOLDS, PREDS, NA_PROBS, na_prob_thresh=0.25)
    assert s["exact"] == pytest.approx(75.0)
    assert s["NoAns_exact"] == pytest.approx(100.0)


def test_best_threshold_hand_computed() -> None:
    # start: abstain everywhere -> 2 (q3, q4). In na_prob order:
    # exact: q1 +1 -> 3 (t=0.1, best), q2 +0 -> 3, q3 -1 -> 2, q4 0 -> 2
    # f1:    q1 +1 -> 3, q2 +2/3 -> 3.67 (t=0.2, best), q3 -1 -> 2.67, q4 0 -> 2.67
    s = squad_scores(GOLDS, PREDS, NA_PROBS)
    assert s["best_exact"] == pytest.approx(75.0)
    assert s["best_exact_thresh"] == pytest.approx(0.1)
    assert s["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert s["best_f1_thresh"] == pytest.approx(0.2)
    # the default threshold 1.0 abstains nowhere, so exact/f1 are the raw scores
    assert s["exact"] == pytest.approx(50.0)


def test_best_threshold_abstain_everywhere() -> None:
    scores = {"a": 0.0, "b": 1.0}
    has_ans = {"a": True, "b": False}
    best, thresh = find_best_threshold(
        {"a": "wrong", "b": ""}, scores, {"a": 0.5, "b": 0.7}, has_ans
    )
    assert (best, thresh) == (50.0, 0.0)


def test_load_squad_golds(tmp_path: Path) -> None:
    articles = [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "Paris is big.",
                    "qas": [
                        {
                            "id": "a",
                            "question": "?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {
                            "id": "b",
                            "question": "?",
                            "answers": [],
                            "is_impossible": True,
                            "plausible_answers": [{"text": "big", "answer_start": 9}],
                        },
                    ],
                }
            ],
        }
    ]
    assert load_squad_golds_from_articles(articles) == {"a": ["Paris"], "b": []}
    path = tmp_path / "d.json"
    path.write_text('{"version": "v2.0", "data": ' + json.dumps(articles) + "}")
    assert load_squad_golds(path) == {"a": ["Paris"], "b": []}
    preds = tmp_path / "p.json"
    preds.write_text('{"a": "Paris", "b": ""}')
    assert load_predictions(preds) == {"a": "Paris", "b": ""}


# --------------------------------------------------------------------------- retrieval


RANKED = [[False, True, False, True], [True, False, False, False], [False, False, False, False]]


def test_recall_at_k() -> None:
    rankings = {"q1": ["a", "b", "c", "d"], "q2": ["a", "b"]}
    qrels = {"q1": {"b": 1, "d": 2, "c": 0}, "q2": {"a": 1, "z": 1}}  # z never retrieved
    per_query = trec_measures(rankings, qrels, ["recall.2,4"])
    assert per_query["q1"] == {"recall_2": pytest.approx(0.5), "recall_4": pytest.approx(1.0)}
    assert per_query["q2"] == {"recall_2": pytest.approx(0.5), "recall_4": pytest.approx(0.5)}


def test_trec_measures_keep_the_given_order_and_score_unjudged_queries_0() -> None:
    # ids that sort the other way round, so a tie broken by id would reverse them
    per_query = trec_measures({"q": ["a", "b"], "none": ["a"], "empty": []},
                              {"q": {"b": 1}, "none": {}}, ["recip_rank", "success.1"])
    assert per_query["q"] == {"recip_rank": pytest.approx(0.5), "success_1": 0.0}
    assert per_query["none"] == per_query["empty"] == {"recip_rank": 0.0, "success_1": 0.0}
    # depth cuts the ranking before scoring: MRR@1
    assert trec_measures({"q": ["a", "b"]}, {"q": {"b": 1}}, ["recip_rank"], depth=1)["q"] == \
        {"recip_rank": 0.0}


def test_hit_rate_and_mrr_at_k() -> None:
    assert hit_rate_at_k(RANKED, 1) == pytest.approx(1 / 3)
    assert hit_rate_at_k(RANKED, 2) == pytest.approx(2 / 3)
    assert mrr_at_k(RANKED, 1) == pytest.approx(1 / 3)
    assert mrr_at_k(RANKED, 10) == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert mrr_at_k([], 10) == 0.0


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    return trec_measures({"q": ranked}, {"q": relevant}, [f"ndcg_cut.{k}"])["q"][f"ndcg_cut_{k}"]


def test_ndcg_at_k() -> None:
    relevant = {"d2": 2, "d3": 1, "d4": 1, "d9": 0, "d8": -1}
    dcg = 0 + 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["d1", "d2", "d3"], relevant, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["d2", "d3", "d4"], relevant, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["d2", "d4", "d3"], relevant, 3) == pytest.approx(1.0)  # equal grades
    assert ndcg_at_k(["d1", "d2"], relevant, 1) == 0.0
    # k=1 ideal is d2 (grade 2); d3 first gives 1/2
    assert ndcg_at_k(["d3"], relevant, 1) == pytest.approx(0.5)
    assert ndcg_at_k(["d2", "d2", "d3"], relevant, 2) == ndcg_at_k(["d2", "d3"], relevant, 2)
    assert ndcg_at_k(["d8", "d2"], relevant, 2) == ndcg_at_k(["d9", "d2"], relevant, 2)  # < 0: 0
    assert ndcg_at_k(["d1"], {}, 10) == 0.0


# --------------------------------------------------------------------------- calibration


def test_reliability_bins_and_ece() -> None:
    conf = [0.9, 0.9, 0.2, 0.6, 1.0]
    correct = [1.0, 0.0, 0.0, 1.0, 1.0]
    bins = reliability_bins(conf, correct, n_bins=10)
    assert len(bins) == 10
    assert [b["count"] for b in bins] == [0, 0, 1, 0, 0, 0, 1, 0, 0, 2 + 1]
    last = bins[9]
    assert (last["lower"], last["upper"]) == (pytest.approx(0.9), pytest.approx(1.0))
    assert last["mean_confidence"] == pytest.approx(2.8 / 3)
    assert last["accuracy"] == pytest.approx(2 / 3)
    assert bins[0]["mean_confidence"] is None and bins[0]["accuracy"] is None
    # |0-0.2|*1/5 + |1-0.6|*1/5 + |2/3-2.8/3|*3/5
    expected = 0.2 / 5 + 0.4 / 5 + (0.8 / 3) * 3 / 5
    assert expected_calibration_error(conf, correct, n_bins=10) == pytest.approx(expected)


def test_ece_perfect_and_invalid() -> None:
    assert expected_calibration_error([1.0, 0.0], [1.0, 0.0]) == pytest.approx(0.0)
    assert expected_calibration_error([], []) == 0.0
    with pytest.raises(ValueError):
        expected_calibration_error([1.2], [1.0])
    with pytest.raises(ValueError):
        reliability_bins([0.5], [1.0, 0.0])


# --------------------------------------------------------------------------- published numbers


def _shared_data() -> Path:
    env = os.environ.get("QA_SHARED_DATA")
    return Path(env) if env else Path(__file__).parents[2] / "shared" / "data"


SQUAD = _shared_data() / "squad"


@cache
def _golds(name: str) -> dict[str, list[str]]:
    return load_squad_golds(SQUAD / name)


@pytest.mark.parametrize(
    ("dev", "predictions", "exact", "f1_score"),
    [
        ("dev-v1.1.json", "1.1/BERT_ensemble_Google_AI_Language.json", 86.2, 92.2),
        ("dev-v1.1.json", "1.1/Logistic_Regression_Baseline_Stanford_University.json", 40.1, 51.0),
        ("dev-v2.0.json", "v2.0/BERT_single_model_Google_AI_Language.json", 78.7, 81.8),
    ],
)
def test_published_squad_numbers(dev: str, predictions: str, exact: float, f1_score: float) -> None:
    pred_path = SQUAD / "predictions" / predictions
    if not (SQUAD / dev).is_file() or not pred_path.is_file():
        pytest.skip(f"shared SQuAD data not found under {SQUAD}")
    scores = squad_scores(_golds(dev), load_predictions(pred_path))
    assert (round(scores["exact"], 1), round(scores["f1"], 1)) == (exact, f1_score)
