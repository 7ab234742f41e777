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
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from eval.metrics import exact_match, expected_calibration_error, f1, max_over_golds
from eval.splits import holdout_titles, split_articles
from eval.squad import load_squad_file, paragraph_passage, parse_squad
from qa.reader import DEFAULT_READER_DIR, NeuralReader, calibration, carry_raw_confidence


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
    # torch and transformers come with train_reader: loaded only when this runs
    from eval.training.train_reader import hard_negatives, train_holdout

    articles = json.loads(json.dumps(train_holdout(data, count)))  # a copy
    paragraphs = {p["context"]: p for a in articles for p in a["paragraphs"]}
    for row in hard_negatives(articles, 0.5, 13):
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


def fit_platt(gaps: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Slope and bias of an unpenalised logistic regression of `right` (1/0) on `gaps`."""
    # C=inf: no penalty (the plain maximum-likelihood fit); Newton steps to a tight tolerance,
    # since slope and bias are stored to 6 decimals
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10, max_iter=100)
    model.fit(gaps.reshape(-1, 1), right)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def carry_threshold(raw_threshold: float, slope: float, bias: float) -> float:
    """The calibrated confidence at which exactly the questions with sigmoid(gap) >=
    `raw_threshold` are answered (the map gap -> slope x gap + bias must keep the order)."""
    if slope <= 0:
        raise SystemExit(f"fitted slope {slope} <= 0: confidence would not grow with the gap")
    return carry_raw_confidence(raw_threshold, slope, bias)


def main(argv: list[str] | None = None) -> None:
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
    args = ap.parse_args(argv)
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
