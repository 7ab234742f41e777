"""Evaluation metrics.

* SQuAD answer metrics, following the definitions of the official v1.1/v2.0 evaluation scripts
  (normalisation, exact match, token F1, no-answer handling, best no-answer threshold).
* Retrieval metrics: trec_eval's measures (nDCG@k, recall@k, success@k, reciprocal rank) by
  pytrec_eval, as BEIR computes them; hit rate@k and MRR@k over per-rank relevance flags.
* Calibration: reliability-diagram bins and expected calibration error.

The SQuAD and calibration parts were written for this project from the published metric
definitions.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)

# --------------------------------------------------------------------------- answer metrics


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and English articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised answers are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token-overlap F1; two empty answers (abstentions) agree with F1 1."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_golds(
    metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]
) -> float:
    """Best score against any gold answer; no gold answers means the question is unanswerable."""
    if not golds:
        golds = [""]
    return max(metric(prediction, g) for g in golds)


def scoring_golds(golds: Sequence[str]) -> list[str]:
    """Gold answers as the official v2.0 script scores them.

    Answers whose normalised text is empty are dropped; if none is left the only gold is ""
    (the question counts as unanswerable for scoring, so an abstention "" matches it).
    """
    kept = [g for g in golds if normalize_answer(g)]
    return kept or [""]


# --------------------------------------------------------------------------- SQuAD loading


def load_squad_golds_from_articles(articles: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Gold answer texts per question id from SQuAD `data` articles (v1.1 or v2.0).

    Impossible v2.0 questions map to [] (their `plausible_answers` are not golds).
    """
    golds: dict[str, list[str]] = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa.get("is_impossible", False):
                    golds[qa["id"]] = []
                else:
                    golds[qa["id"]] = [a["text"] for a in qa.get("answers", [])]
    return golds


def load_squad_golds(path: str | Path) -> dict[str, list[str]]:
    """Gold answer texts per question id from a SQuAD v1.1/v2.0 JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return load_squad_golds_from_articles(data["data"])


def load_predictions(path: str | Path) -> dict[str, str]:
    """Predictions file in the official format: a JSON object {question id: answer text}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object {{qid: answer}}")
    return {str(k): str(v) for k, v in data.items()}


# --------------------------------------------------------------------------- SQuAD scoring


def _percent(values: Iterable[float], total: int) -> float:
    return 100.0 * sum(values) / total if total else 0.0


def _apply_no_answer_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
    threshold: float,
) -> dict[str, float]:
    """Questions with na_prob > threshold are treated as abstentions (official convention)."""
    return {
        qid: (float(not has_ans[qid]) if na_probs.get(qid, 0.0) > threshold else s)
        for qid, s in scores.items()
    }


def find_best_threshold(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """Best percent score over no-answer thresholds, and that threshold (official find_best_thresh).

    Starts from "abstain everywhere" (score = number of unanswerable questions) and, in order of
    increasing na_prob, lets each question be answered; the threshold is the na_prob of the last
    question answered at the best score (answer when na_prob <= threshold). 0.0 when abstaining
    everywhere is best.
    """
    current = best = float(sum(1 for qid in scores if not has_ans[qid]))
    best_thresh = 0.0
    # ties keep na_probs' own order, as in the official script (sorted over the na_prob file)
    order = [q for q in na_probs if q in scores] + [q for q in scores if q not in na_probs]
    for qid in sorted(order, key=lambda q: na_probs.get(q, 0.0)):
        if has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1.0 if predictions.get(qid, "") else 0.0
        current += diff
        if current > best:
            best = current
            best_thresh = na_probs.get(qid, 0.0)
    return _percent([best], len(scores)), best_thresh


def squad_scores(
    golds: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """Official SQuAD v2.0 metric (also right for v1.1, where every question is answerable).

    golds: question id -> gold answer texts ([] = unanswerable). Only these ids are scored.
    predictions: question id -> answer text; "" abstains. A missing prediction counts as "".
    na_probs: optional question id -> no-answer probability (missing ids count as 0.0); with
    it, answers with na_prob > na_prob_thresh become abstentions, and best_exact/best_f1 with
    their thresholds are added.

    Returns percentages (0-100): exact, f1, total, and HasAns_*/NoAns_* for the subsets present.
    """
    has_ans = {qid: bool(answers) for qid, answers in golds.items()}
    preds = {qid: predictions.get(qid, "") for qid in golds}
    exact_raw: dict[str, float] = {}
    f1_raw: dict[str, float] = {}
    for qid, answers in golds.items():
        gold = scoring_golds(answers)
        exact_raw[qid] = max_over_golds(exact_match, preds[qid], gold)
        f1_raw[qid] = max_over_golds(f1, preds[qid], gold)

    probs = na_probs or {}
    exact_t = _apply_no_answer_threshold(exact_raw, probs, has_ans, na_prob_thresh)
    f1_t = _apply_no_answer_threshold(f1_raw, probs, has_ans, na_prob_thresh)
    total = len(golds)
    out: dict[str, float] = {
        "exact": _percent(exact_t.values(), total),
        "f1": _percent(f1_t.values(), total),
        "total": total,
    }
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        ids = [qid for qid in golds if has_ans[qid] is wanted]
        if ids:
            out[f"{prefix}_exact"] = _percent((exact_t[q] for q in ids), len(ids))
            out[f"{prefix}_f1"] = _percent((f1_t[q] for q in ids), len(ids))
            out[f"{prefix}_total"] = len(ids)
    if na_probs is not None and total:
        out["best_exact"], out["best_exact_thresh"] = find_best_threshold(
            preds, exact_raw, na_probs, has_ans
        )
        out["best_f1"], out["best_f1_thresh"] = find_best_threshold(
            preds, f1_raw, na_probs, has_ans
        )
    return out


# --------------------------------------------------------------------------- retrieval


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _result_names(measure: str) -> list[str]:
    """The keys trec_eval gives a measure's results: "recall.10,100" -> recall_10, recall_100."""
    name, _, cuts = measure.partition(".")
    return [f"{name}_{cut}" for cut in cuts.split(",")] if cuts else [name]


def trec_measures(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    measures: Sequence[str],
    depth: int | None = None,
) -> dict[str, dict[str, float]]:
    """trec_eval's per-query measures, by pytrec_eval (what BEIR scores with).

    rankings: query id -> item ids, best first (a repeated id counts once, where it first
    appears); `depth` cuts each ranking first (reciprocal rank has no cut-off of its own, so
    MRR@10 is "recip_rank" at depth 10). qrels: query id -> item id -> graded relevance
    (relevant: grade >= 1; nDCG gains are the grades, those <= 0 count as 0). measures in
    trec_eval's names with cut-offs after a dot ("ndcg_cut.10", "recall.10,100", "success.1,5",
    "recip_rank"); the results are keyed as trec_eval prints them ("ndcg_cut_10"). Every query
    of `rankings` gets a row; one without any judged item, which trec_eval leaves out, scores 0.
    """
    names = [name for m in measures for name in _result_names(m)]
    run: dict[str, dict[str, float]] = {}
    for qid, ranked in rankings.items():
        unique = list(dict.fromkeys(ranked))[:depth]
        # descending scores in rank order, all distinct, so trec_eval keeps the order as given
        run[qid] = {doc: float(len(unique) - rank) for rank, doc in enumerate(unique)}
    judged = {q: {d: int(g) for d, g in qrels.get(q, {}).items()} for q in rankings}
    import pytrec_eval  # here, so the reader's training needs only the answer metrics

    scored = pytrec_eval.RelevanceEvaluator(judged, set(measures)).evaluate(run) if run else {}
    return {q: {n: float(scored.get(q, {}).get(n, 0.0)) for n in names} for q in rankings}


def _flag_rankings(
    ranked_relevance: Sequence[Sequence[bool]],
) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Rankings and qrels standing for per-rank relevance flags (an item's id is its rank)."""
    rankings = {str(q): [str(r) for r in range(len(flags))] for q, flags in
                enumerate(ranked_relevance)}
    qrels = {str(q): {str(r): int(bool(f)) for r, f in enumerate(flags)} for q, flags in
             enumerate(ranked_relevance)}
    return rankings, qrels


def hit_rate_at_k(ranked_relevance: Sequence[Sequence[bool]], k: int) -> float:
    """Fraction of queries with at least one relevant item in the top k (trec_eval success@k).

    ranked_relevance[i][j]: whether the j-th ranked item of query i is relevant.
    """
    rankings, qrels = _flag_rankings(ranked_relevance)
    return mean(r[f"success_{k}"] for r in trec_measures(rankings, qrels, [f"success.{k}"]).values())


def mrr_at_k(ranked_relevance: Sequence[Sequence[bool]], k: int) -> float:
    """Mean reciprocal rank of the first relevant item in the top k (0 when there is none)."""
    rankings, qrels = _flag_rankings(ranked_relevance)
    per_query = trec_measures(rankings, qrels, ["recip_rank"], depth=k)
    return mean(r["recip_rank"] for r in per_query.values())


# --------------------------------------------------------------------------- calibration


class ReliabilityBin(TypedDict):
    """One bin of a reliability diagram; the means are None for an empty bin."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def _check_calibration_inputs(confidences: Sequence[float], correct: Sequence[float]) -> None:
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")
    if any(not 0.0 <= c <= 1.0 for c in confidences):
        raise ValueError("confidences must lie in [0, 1]")


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[float], n_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width confidence bins [i/n, (i+1)/n) (the last one includes 1.0).

    correct holds per-prediction correctness in [0, 1] (1/0, or e.g. F1); a bin's accuracy is
    its mean correctness, its mean_confidence the mean confidence of its predictions.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    _check_calibration_inputs(confidences, correct)
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, conf in enumerate(confidences):
        members[min(int(conf * n_bins), n_bins - 1)].append(i)
    bins: list[ReliabilityBin] = []
    for b, idx in enumerate(members):
        bins.append(
            ReliabilityBin(
                lower=b / n_bins,
                upper=(b + 1) / n_bins,
                count=len(idx),
                mean_confidence=mean(confidences[i] for i in idx) if idx else None,
                accuracy=mean(correct[i] for i in idx) if idx else None,
            )
        )
    return bins


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[float], n_bins: int = 10
) -> float:
    """ECE: sum over bins of (bin size / N) * |accuracy - mean confidence|; 0.0 for no data."""
    total = len(confidences)
    if total == 0:
        _check_calibration_inputs(confidences, correct)
        return 0.0
    ece = 0.0
    for b in reliability_bins(confidences, correct, n_bins):
        if b["count"] and b["accuracy"] is not None and b["mean_confidence"] is not None:
            ece += b["count"] / total * abs(b["accuracy"] - b["mean_confidence"])
    return ece
