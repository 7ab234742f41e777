"""Sweep QA_READER_RETRIEVAL_WEIGHT: how the reader's answer choice across the top 3 passages
should weigh the learned retrieval probability against its span score.

SQuAD v1.1 dev paragraphs are indexed once (the product's ingest, default settings) in --work;
for sampled answerable questions of one side of the reader split, the top 3 passages are
retrieved and read once, and the answer (never abstaining) is picked for every weight from the
same window spans by NeuralReader.read's own rule. Pick the weight on `--side train` (the
reader's training articles); `--side dev` only confirms it.

    .venv/bin/python scripts/sweep_retrieval_weight.py --side train --limit 1500
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.metrics import f1, max_over_golds  # noqa: E402
from eval.splits import dev_titles  # noqa: E402
from eval.squad import index_paragraphs, load_squad_file  # noqa: E402
from qa.reader import NeuralReader, retrieval_prior  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--side", choices=("train", "dev"), default="train")
    ap.add_argument("--limit", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("runs/sweep-retrieval-weight"))
    args = ap.parse_args()
    path = args.data / "squad" / "dev-v1.1.json"
    dataset = load_squad_file(path)
    dev = {t.replace("_", " ") for t in dev_titles(path)}  # file titles; paragraphs use spaces
    service = QAService(Settings(data_dir=args.work))
    if not service.corpus.passage_count():
        index_paragraphs(service, dataset, progress=True)
    questions = [q for q in dataset.questions if q.answers
                 and (dataset.paragraphs[q.paragraph].title.replace("_", " ") in dev)
                 == (args.side == "dev")]
    random.Random(args.seed).shuffle(questions)
    reader = service.reader
    if not isinstance(reader, NeuralReader):
        sys.exit("the sweep needs the neural reader")
    totals = dict.fromkeys(WEIGHTS, 0.0)
    asked = questions[: args.limit]
    for q in tqdm(asked, desc=f"reading ({args.side})", unit="q"):
        passages = service.retriever.retrieve(q.question, service.settings.read_passages)
        found = reader.window_spans(q.question, passages)  # read once, picked for every weight
        for weight in WEIGHTS:
            best = max(found, default=None, key=lambda f: f.span.score + retrieval_prior(
                passages[f.passage], weight))
            text = "" if best is None else passages[best.passage].text[
                best.span.start_char : best.span.end_char]
            totals[weight] += max_over_golds(f1, text, q.golds)
    print(f"{args.side} side, {len(asked)} questions, F1 never abstaining, by weight:")
    for weight, total in totals.items():
        print(f"  {weight:5.2f}  {100 * total / len(asked):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
