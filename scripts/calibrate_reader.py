"""Fit the reader's confidence to how often it is right, on the SQuAD v2.0 dev split.

    .venv/bin/python scripts/calibrate_reader.py ../shared/data/squad/dev-v2.0.json

Reads every dev-split question against its own paragraph (reading mode), takes the winning
span's gap (span score - null score), and fits confidence = sigmoid(slope x gap + bias) to
whether the span is exactly right (unanswerable questions: never) by logistic regression
(Platt scaling; the order of the confidences, and so which questions are answered at a given
threshold, does not change). The abstention threshold recorded before, `raw_threshold` (a
confidence in the uncalibrated units sigmoid(gap)), is carried over to the new units, so the
same questions are answered. Writes slope, bias and abstain_threshold into calibration.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.metrics import exact_match, expected_calibration_error, f1, max_over_golds  # noqa: E402
from eval.splits import holdout_titles, split_articles  # noqa: E402
from eval.squad import load_squad_file, paragraph_passage, parse_squad  # noqa: E402
from qa.reader import DEFAULT_READER_DIR, NeuralReader, calibration, carry_raw_confidence  # noqa: E402


def gaps_and_outcomes(reader: NeuralReader, path: Path, titles: list[str] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per question of the dev split (or of the articles `titles`): the winning span's gap,
    whether it is exactly right, its F1, and whether the question is answerable."""
    if titles is None:
        dataset = load_squad_file(path, "reader-dev")
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["data"] = split_articles(data["data"], titles, keep=True)
        dataset = parse_squad(data)
    gaps, right, f1s, answerable = [], [], [], []
    for q in dataset.questions:
        paragraph = dataset.paragraphs[q.paragraph]
        found, _ = reader.best_window(q.question, [paragraph_passage(q.paragraph, paragraph)])
        if found is None:
            continue
        text = paragraph.context[found.span.start_char : found.span.end_char]
        gaps.append(found.span.score - found.null)
        right.append(max_over_golds(exact_match, text, q.golds) if q.golds else 0.0)
        f1s.append(max_over_golds(f1, text, q.golds) if q.golds else 0.0)
        answerable.append(bool(q.golds))
    return np.array(gaps), np.array(right), np.array(f1s), np.array(answerable)


def write_train_holdout(data: Path, count: int, out: Path) -> list[str]:
    """The last `count` SQuAD v1.1 train articles as a SQuAD v2.0 file at `out`: their own
    questions, plus train_reader.py's hard no-answer questions (seed 13, half of them) as
    unanswerable questions of the paragraph they were paired with. Returns the titles."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_reader", Path(__file__).with_name(
        "train_reader.py"))
    assert spec is not None and spec.loader is not None
    train_reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_reader)
    articles = json.loads(json.dumps(train_reader.train_holdout(data, count)))  # a copy
    paragraphs = {p["context"]: p for a in articles for p in a["paragraphs"]}
    for row in train_reader.hard_negatives(articles, 0.5, 13):
        paragraphs[row["context"]]["qas"].append(
            {"id": row["id"], "question": row["question"], "answers": [], "is_impossible": True})
    out.write_text(json.dumps({"version": "v2.0", "data": articles}), encoding="utf-8")
    return [a["title"] for a in articles]


def best_raw_threshold(gaps: np.ndarray, f1s: np.ndarray, answerable: np.ndarray,
                       grid: list[float]) -> tuple[float, float]:
    """The raw threshold on sigmoid(gap) of `grid` with the best SQuAD v2 F1 (answered: the
    span's F1; abstained: 1 for an unanswerable question, else 0), and that F1."""
    raw = 1 / (1 + np.exp(-gaps))
    scored = []
    for t in grid:
        answered = raw >= t
        scores = np.where(answered, f1s, (~answerable).astype(float))
        scored.append((float(scores.mean()), t))
    f1_best, t_best = max(scored)
    return t_best, 100 * f1_best


def fit_platt(gaps: np.ndarray, right: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Logistic regression of `right` on `gaps` (Newton's method; two parameters)."""
    x = np.stack([gaps, np.ones_like(gaps)], axis=1)
    rate = float(np.clip(right.mean(), 1e-3, 1 - 1e-3))
    w = np.array([0.0, math.log(rate / (1 - rate))])  # the base rate: a well-conditioned start
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -60, 60)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, x.T @ (right - p))
        w = w + step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def carry_threshold(raw_threshold: float, slope: float, bias: float) -> float:
    """The calibrated confidence at which exactly the questions with sigmoid(gap) >=
    `raw_threshold` are answered (the map gap -> slope x gap + bias must keep the order)."""
    if slope <= 0:
        raise SystemExit(f"fitted slope {slope} <= 0: confidence would not grow with the gap")
    return carry_raw_confidence(raw_threshold, slope, bias)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad_v2_dev", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_READER_DIR)
    ap.add_argument("--holdout", type=int, default=0,
                    help="fit on the v2.0 questions of the N training articles train_reader.py "
                         "--holdout N held out (needs --data) instead of the dev split, and choose "
                         "the threshold there too (best v2 F1 on a 0.05 grid)")
    ap.add_argument("--holdout-train", type=int, default=0,
                    help="fit on the last N articles of SQuAD v1.1 train (held out by "
                         "train_reader.py --holdout-train N) with a hard no-answer question for "
                         "half of their questions (another paragraph of the article), instead "
                         "of the dev split; the threshold is chosen there too. The positional "
                         "file is then where the v2-format set is written")
    ap.add_argument("--data", type=Path, default=None,
                    help="folder with squad/ (for --holdout, --holdout-train)")
    args = ap.parse_args()
    reader = NeuralReader(args.model)
    reader.slope, reader.bias = 1.0, 0.0  # raw gaps, whatever was fitted before
    titles = holdout_titles(args.data / "squad" / "dev-v1.1.json", args.holdout) \
        if args.holdout else None
    if args.holdout_train:
        titles = write_train_holdout(args.data, args.holdout_train, args.squad_v2_dev)
    gaps, right, f1s, answerable = gaps_and_outcomes(reader, args.squad_v2_dev, titles)
    slope, bias = (round(v, 6) for v in fit_platt(gaps, right))  # as stored, then used
    recorded = calibration(args.model)
    raw_threshold = float(recorded.get("raw_threshold", recorded.get("abstain_threshold", 0.5)))
    where = f"{len(gaps)} questions of the SQuAD v2.0 dev split, reading mode"
    if titles is not None:
        grid = [round(0.05 * i, 2) for i in range(1, 20)] + [0.97, 0.99]
        raw_threshold, best_f1 = best_raw_threshold(gaps, f1s, answerable, grid)
        where = (f"{len(gaps)} questions ({int((~answerable).sum())} unanswerable) of "
                 f"the {len(titles)} held-out training articles {titles}, reading mode; the raw "
                 f"threshold is the grid value with the best v2 F1 there ({best_f1:.1f})")
        recorded.pop("rule", None)
        recorded.pop("chosen_on", None)
    threshold = carry_threshold(raw_threshold, slope, bias)
    before = expected_calibration_error(list(1 / (1 + np.exp(-gaps))), list(right))
    after = expected_calibration_error(list(1 / (1 + np.exp(-(slope * gaps + bias)))), list(right))
    recorded.update({"slope": slope, "bias": bias, "raw_threshold": raw_threshold,
                     "abstain_threshold": threshold,
                     "fitted_on": where,
                     "ece_on_that_split": {"uncalibrated": round(before, 4), "calibrated": round(after, 4)}})
    (args.model / "calibration.json").write_text(json.dumps(recorded, indent=1) + "\n")
    print(json.dumps({k: recorded[k] for k in ("slope", "bias", "raw_threshold", "abstain_threshold",
                                               "ece_on_that_split")}, indent=1))


if __name__ == "__main__":
    main()
