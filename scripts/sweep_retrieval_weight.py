"""Sweep QA_READER_RETRIEVAL_WEIGHT: how the reader's answer choice across the top 3 passages
should weigh the learned retrieval probability against its span score.

SQuAD v1.1 dev paragraphs are indexed once (the product's ingest, default settings) in --work;
for sampled answerable questions of one side of the reader split, the top 3 passages are
retrieved and read once, and the answer (never abstaining) is picked for every weight from the
same logits, as NeuralReader.read does. Pick the weight on `--side train` (the reader's training
articles); `--side dev` only confirms it.

    .venv/bin/python scripts/sweep_retrieval_weight.py --side train --limit 1500
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval.metrics import f1, max_over_golds  # noqa: E402
from eval.splits import dev_titles  # noqa: E402
from eval.squad import index_paragraphs, load_squad_file  # noqa: E402
from qa.reader import NeuralReader  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.span_decoding import best_spans  # noqa: E402

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
    if not service.corpus.store.passage_count():
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
        enc, start, end = reader.logits(q.question, [p.text for p in passages])
        spans: dict[int, tuple[float, str]] = {}  # passage -> best span score, text
        for w in range(len(enc["input_ids"])):
            i = int(enc["overflow_to_sample_mapping"][w])
            seq = enc.sequence_ids(w)
            offsets = [(int(o[0]), int(o[1])) if s == 1 else None
                       for o, s in zip(enc["offset_mapping"][w], seq, strict=False)]
            found = best_spans(start[w], end[w], offsets, reader.max_answer_tokens)
            if found and (i not in spans or found[0].score > spans[i][0]):
                spans[i] = (found[0].score, passages[i].text[found[0].start_char:found[0].end_char])
        for weight in WEIGHTS:
            best = None
            for i, (score, text) in spans.items():
                p = min(max(passages[i].probability or 0.5, 1e-6), 1 - 1e-6)
                combined = score + weight * math.log(p / (1 - p))
                if best is None or combined > best[0]:
                    best = (combined, text)
            totals[weight] += max_over_golds(f1, best[1] if best else "", q.golds)
    print(f"{args.side} side, {len(asked)} questions, F1 never abstaining, by weight:")
    for weight, total in totals.items():
        print(f"  {weight:5.2f}  {100 * total / len(asked):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
