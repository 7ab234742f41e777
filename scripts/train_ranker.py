"""Train the learned re-scorer of the fused top passages (qa/ranker.py).

Each training file (SQuAD format) is indexed as its own corpus, through the product's own
ingest and retrieval; for sampled answerable questions the fused top `rescore_candidates`
passages are labelled by whether they hold a gold answer span, and a logistic regression is
fitted on the features the product computes at query time. Default data: SQuADShifts Reddit
and Amazon (the reader issue's training data), so no SQuAD v1.1 dev question, used to measure
retrieval, is ever seen. Needs the `train` extra (scikit-learn).

    .venv/bin/python scripts/train_ranker.py --data ../shared/data --out qa/models/ranker/ranker.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import qa.ranker as ranker_module  # noqa: E402
from eval.squad import contains_gold, index_paragraphs, load_squad_file, sample_questions  # noqa: E402
from qa.ranker import FEATURE_SETTINGS, FEATURES  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.storage.documents import document_id  # noqa: E402

log = logging.getLogger("train_ranker")
TRAINING_FILES = ("squadshifts/reddit_v1.0.json", "squadshifts/amazon_reviews_v1.0.json")


def training_settings(work: Path) -> Settings:
    """The product's defaults, pinned: QA_* variables of the shell must not leak into the
    features (e.g. QA_RESCORER=off would store no sentence vectors)."""
    pinned = {name: Settings.model_fields[name].default for name in FEATURE_SETTINGS}
    return Settings(data_dir=work, rescorer="learned", fusion="rrf", **pinned)


def collect(path: Path, work: Path, questions: int, seed: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Features, labels and question number of every fused candidate of sampled questions.
    The corpus is indexed once in `work`; features are cached there under a key of the
    feature code, the settings and the sample, so a rerun only re-fits."""
    settings = training_settings(work)
    key = hashlib.sha256(json.dumps([
        Path(ranker_module.__file__).read_text(encoding="utf-8"),
        settings.model_dump(include=set(FEATURE_SETTINGS)), questions, seed,
    ], sort_keys=True).encode()).hexdigest()[:12]
    cache = work / f"features-{key}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"], data["g"], json.loads(str(data["info"]))
    t0 = time.perf_counter()
    dataset = load_squad_file(path)
    service = QAService(settings)
    if not service.corpus.passage_count():  # else indexed by an earlier run
        index_paragraphs(service, dataset, progress=True)
    document_ids = [document_id(p.context) for p in dataset.paragraphs]
    asked = sample_questions([q for q in dataset.questions if q.answers], questions, seed)
    rows, labels, groups = [], [], []
    for n, q in enumerate(tqdm(asked, desc=path.name, unit="q")):
        question = service.validate_question(q.question)  # as `ask` would see it
        found = service.retriever.search(question, settings.rescore_candidates)
        if not found.passages or found.vector is None:
            continue
        rows.append(service.retriever.features(question, found.passages, found.vector,
                                               found.bm25))
        labels += [contains_gold(p, document_ids[q.paragraph], q.answers) for p in found.passages]
        groups += [n] * len(found.passages)
    service.close()
    x, y, g = np.vstack(rows), np.array(labels, int), np.array(groups)
    info = {"file": path.name, "paragraphs": len(dataset.paragraphs), "questions": len(asked),
            "candidates": len(y), "positives": int(y.sum()),
            "seconds": round(time.perf_counter() - t0, 1)}
    np.savez(cache, x=x, y=y, g=g, info=json.dumps(info))
    return x, y, g, info


def recall_at_1(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    """Share of questions whose top-scored candidate holds an answer (ties: fused order)."""
    hits = [labels[groups == q][int(np.argmax(scores[groups == q]))] for q in np.unique(groups)]
    return float(np.mean(hits))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--files", nargs="+", default=list(TRAINING_FILES),
                    help="SQuAD-format files under --data, each indexed as its own corpus")
    ap.add_argument("--questions", type=int, default=4000, help="sampled questions per file")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("runs/ranker"),
                    help="where the training corpora are indexed (reused when present)")
    ap.add_argument("--out", type=Path, default=Path("qa/models/ranker/ranker.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        sys.exit("training needs scikit-learn: pip install -e '.[train]'")

    t0 = time.perf_counter()
    parts = [collect(args.data / f, args.work / Path(f).stem, args.questions, args.seed)
             for f in args.files]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    offset, groups = 0, []
    for p in parts:  # question ids unique across files
        groups.append(p[2] + offset)
        offset += int(p[2].max()) + 1
    g = np.concatenate(groups)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=args.c, max_iter=5000).fit((x - mean) / scale, y)
    scores = model.decision_function((x - mean) / scale)
    fused = -x[:, FEATURES.index("log_fused_rank")]  # the first stage's own order
    out = {
        "features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
        "settings": training_settings(args.work).model_dump(include=set(FEATURE_SETTINGS)),
        "training": {
            "files": [p[3] for p in parts], "c": args.c, "seed": args.seed,
            "command": " ".join(["scripts/train_ranker.py", *sys.argv[1:]]),
            "date": datetime.date.today().isoformat(),
            "recall_at_1_fused": round(recall_at_1(fused, y, g), 4),
            "recall_at_1_rescored": round(recall_at_1(scores, y, g), 4),
            "run_seconds": round(time.perf_counter() - t0, 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s: training R@1 %.3f fused -> %.3f re-scored", args.out,
             out["training"]["recall_at_1_fused"], out["training"]["recall_at_1_rescored"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
