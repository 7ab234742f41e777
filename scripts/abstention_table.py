"""F1 of a finished `qa eval squad` run at several abstention thresholds, from its questions.jsonl
(the raw span and confidence of every question), without re-running the reader.

    .venv/bin/python scripts/abstention_table.py runs/eval/reader-dev-v1.1 runs/eval/reader-dev-v2.0
With --raw MODEL_DIR the thresholds are in the reader's uncalibrated units sigmoid(span - null)
and are carried to the calibrated confidence the runs recorded with MODEL_DIR/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.metrics import squad_scores  # noqa: E402
from qa.reader import calibration, carry_raw_confidence  # noqa: E402


def scores_at(rows: list[dict], threshold: float) -> dict[str, float]:
    golds = {r["id"]: r["golds"] for r in rows}
    preds = {r["id"]: r["raw_prediction"] if r["confidence"] >= threshold else "" for r in rows}
    return squad_scores(golds, preds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path, help="output folders of qa eval squad")
    ap.add_argument("--thresholds", type=float, nargs="+",
                    default=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
    ap.add_argument("--raw", type=Path, default=None, metavar="MODEL_DIR",
                    help="thresholds in raw units, carried over with this reader's calibration")
    args = ap.parse_args()
    fitted = calibration(args.raw) if args.raw else {}
    slope, bias = float(fitted.get("slope", 1.0)), float(fitted.get("bias", 0.0))
    runs = {run: [json.loads(line) for line in (run / "questions.jsonl").open()]
            for run in args.runs}
    header = ["t"] + [f"{run.name} {col}" for run in runs for col in ("F1", "HasAns F1", "NoAns")]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for t in args.thresholds:
        cells = [f"{t:g}"]
        for rows in runs.values():
            s = scores_at(rows, carry_raw_confidence(t, slope, bias))
            cells += [f"{s['f1']:.1f}", f"{s.get('HasAns_f1', s['f1']):.1f}",
                      f"{s['NoAns_exact']:.1f}" if "NoAns_exact" in s else "-"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
