"""F1 and abstentions by abstention threshold on the news and stories gold sets, from runs made
with QA_ABSTAIN_THRESHOLD=0 (every answer kept with its confidence), without re-running anything.

    QA_ABSTAIN_THRESHOLD=0 qa eval news --split tuning --out runs/x/news-tuning.json
    QA_ABSTAIN_THRESHOLD=0 qa eval stories --out runs/x/stories.json
    .venv/bin/python scripts/threshold_table.py runs/x/news-tuning.json runs/x/stories.json \\
        --split tuning --thresholds 0.2 0.25 0.3 0.35

A question counts as answered when it has an answer with confidence >= the threshold; an
unanswerable question scores 1 when it is not answered, an answerable one its F1 when it is.
These sets' unanswerable questions are news decoys (asked about the story, not said in it),
unlike the held-out SQuAD rows' "another paragraph" negatives, so thresholds are compared here.
The last column is the mean F1 over the files, each weighted equally.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def question_rows(path: Path) -> list[dict[str, Any]]:
    """Per-question rows of a `qa eval news` (corpus mode) or `qa eval stories` output."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "answers" in data:
        return list(data["answers"]["corpus"]["rows"])
    return list(data["rows"])


def score_at(rows: list[dict[str, Any]], threshold: float) -> tuple[float, int, int]:
    """F1 (percent), unanswerable questions abstained on, unanswerable questions."""
    total, abstained, unanswerable = 0.0, 0, 0
    for row in rows:
        answered = bool(row["answer"]) and row["confidence"] >= threshold
        if row["kind"] == "unanswerable":
            unanswerable += 1
            abstained += not answered
            total += not answered
        elif answered:
            total += row["f1"]
    return 100 * total / max(1, len(rows)), abstained, unanswerable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="JSON outputs of qa eval news / stories")
    ap.add_argument("--split", choices=["tuning", "test", "all"], default="tuning")
    ap.add_argument("--thresholds", type=float, nargs="+",
                    default=[0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5])
    args = ap.parse_args()
    sets = {}
    for path in args.runs:
        rows = question_rows(path)
        sets[path.name] = [r for r in rows if args.split == "all" or r.get("split") == args.split]
    names = list(sets)
    print("| threshold | " + " | ".join(f"{n}: F1 (abstained / unanswerable)" for n in names)
          + " | mean F1 |")
    print("|---" * (len(names) + 2) + "|")
    for t in args.thresholds:
        cells, f1s = [], []
        for name in names:
            f1, abstained, unanswerable = score_at(sets[name], t)
            f1s.append(f1)
            cells.append(f"{f1:.1f} ({abstained} / {unanswerable})")
        print(f"| {t:g} | " + " | ".join(cells) + f" | {sum(f1s) / len(f1s):.1f} |")


if __name__ == "__main__":
    main()
