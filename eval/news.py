"""`qa eval news`: news articles as news (eval/gold/news).

Three measurements on the set's scraped-style pages:

* **blocks**: `qa.structure.article_blocks` against the hand labelling of every line
  (precision and recall per kind, and for "not indexed" = boilerplate or a repeat);
* **answers**: the articles ingested into a fresh data dir, every question asked in corpus mode
  (all articles) and in article mode (restricted to its own article, `document_ids`): EM / F1
  (official SQuAD definitions, "" abstains), F1 per question kind, the kind of line each
  answer comes from (by the hand labelling, so flat and structured runs are judged alike), and
  the share of event questions (everything but `photo` and `unanswerable`) answered from a
  caption;
* **duplicates**: `qa.duplicates` on the labelled pairs of `duplicates.jsonl` (the same wire
  copy republished, trimmed or retitled vs independent reports of one event, follow-ups, one
  outlet's template): precision and recall;
* **dates**: for the `when` questions with a gold `date`, how often the answer carries that
  normalized date (`Answer.date`), and, independent of the reader, how often
  `qa.dates.resolve_dates` gives the gold value for the gold answer's words.

`--flat` measures the service as it was before article structure: lines not typed, the whole
text indexed, no caption weight. `--split tuning|test|all` picks the articles (the caption
weight is chosen on `tuning`; numbers are reported on `test`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from eval.metrics import exact_match, f1, max_over_golds
from qa.dates import mention_at, resolve_dates
from qa.duplicates import is_duplicate, signature
from qa.retriever import PassageFilter
from qa.service import QAService
from qa.settings import Settings, get_settings
from qa.structure import article_blocks
from qa.types import Answer, NewDocument

DEFAULT_DIR = Path(__file__).parent / "gold" / "news"
EVENT_KINDS = frozenset({"event", "when", "who_reported", "number"})


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def as_document(article: dict[str, Any]) -> NewDocument:
    return NewDocument(article["title"], article["text"], url=article.get("url"),
                       published=article.get("published"), key=article.get("key"))


def pct(values: list[float]) -> float | None:
    return round(100 * sum(values) / len(values), 1) if values else None


# blocks ------------------------------------------------------------------------------------
def block_scores(articles: list[dict[str, Any]], labels: dict[str, list[dict[str, Any]]]
                 ) -> dict[str, Any]:
    """Per kind: precision, recall and support of the typed lines against the labels, matched
    by line start; plus the same for "not indexed" (boilerplate or a repeat of a line)."""
    predicted: dict[str, set[tuple[str, int]]] = defaultdict(set)
    gold: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for article in articles:
        key = article["key"]
        blocks = article_blocks(article["text"], article["title"])
        for b in blocks:
            predicted[b.kind.value].add((key, b.start))
            if not b.indexed:
                predicted["not_indexed"].add((key, b.start))
        seen: set[str] = set()
        text = article["text"]
        for line in labels[key]:
            gold[line["kind"]].add((key, line["start"]))
            words = " ".join(text[line["start"] : line["end"]].lower().split())
            if line["kind"] == "boilerplate" or words in seen:
                gold["not_indexed"].add((key, line["start"]))
            seen.add(words)
    out = {}
    for kind in sorted(set(gold) | set(predicted)):
        hits = len(gold[kind] & predicted[kind])
        out[kind] = {"precision": pct([1.0] * hits + [0.0] * (len(predicted[kind]) - hits)),
                     "recall": pct([1.0] * hits + [0.0] * (len(gold[kind]) - hits)),
                     "support": len(gold[kind])}
    return out


# duplicates --------------------------------------------------------------------------------
def duplicate_scores(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision and recall of qa.duplicates on labelled pairs, and what a signature costs."""
    import time

    started = time.perf_counter()
    found = [is_duplicate(signature(p["a"]), signature(p["b"])) for p in pairs]
    per_text_ms = (time.perf_counter() - started) * 1000 / max(1, 2 * len(pairs))
    truth = [bool(p["duplicate"]) for p in pairs]
    hits = sum(f and t for f, t in zip(found, truth, strict=True))
    return {"pairs": len(pairs), "duplicates": sum(truth),
            "precision": pct([1.0] * hits + [0.0] * (sum(found) - hits)),
            "recall": pct([1.0] * hits + [0.0] * (sum(truth) - hits)),
            "missed": [p["id"] for p, f, t in zip(pairs, found, truth, strict=True) if t and not f],
            "false": [p["id"] for p, f, t in zip(pairs, found, truth, strict=True) if f and not t],
            "signature_ms": round(per_text_ms, 2)}


# answers -----------------------------------------------------------------------------------
def same_date(answer: Answer, gold: Any) -> bool:
    if answer.date is None:
        return False
    if isinstance(gold, dict):
        return (answer.date.first, answer.date.last) == (gold["from"], gold["to"])
    return answer.date.value == gold


def cited_line(answer: Answer, lines: dict[str, list[dict[str, Any]]]) -> str | None:
    """The hand-labelled kind of the line the answer's first citation quotes (by document id),
    so that the service with and without article structure is judged alike."""
    if not answer.answer or not answer.citations:
        return None
    first = answer.citations[0]
    offset = first.answer_start if first.answer_start is not None else first.start
    return next((line["kind"] for line in lines.get(first.document_id, [])
                 if line["start"] <= offset < line["end"]), None)


def score(question: dict[str, Any], answer: Answer,
          lines: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    golds = question["answers"]
    predicted = answer.answer or ""
    row = {"id": question["id"], "kind": question["kind"], "split": question["split"],
           "question": question["question"], "answer": answer.answer, "golds": golds,
           "em": max_over_golds(exact_match, predicted, golds) if golds else float(not predicted),
           "f1": max_over_golds(f1, predicted, golds) if golds else float(not predicted),
           "block": cited_line(answer, lines), "service_block": (
               answer.citations[0].block if answer.answer and answer.citations else None),
           "confidence": round(answer.confidence, 3),
           "quote": answer.citations[0].quote if answer.answer and answer.citations else None}
    if "date" in question:
        row["date_right"] = same_date(answer, question["date"])
        row["date"] = None if answer.date is None else {
            "text": answer.date.text, "value": answer.date.value, "first": answer.date.first,
            "last": answer.date.last}
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        kinds[r["kind"]].append(r)
    answered_events = [r for r in rows if r["kind"] in EVENT_KINDS and r["answer"]]
    dated = [r for r in rows if "date_right" in r]
    return {
        "questions": len(rows),
        "em": pct([r["em"] for r in rows]), "f1": pct([r["f1"] for r in rows]),
        "by_kind": {k: {"n": len(v), "f1": pct([r["f1"] for r in v])}
                    for k, v in sorted(kinds.items())},
        "cited_blocks": dict(Counter(r["block"] or "unknown" for r in rows if r["answer"])),
        "event_answers_from_captions": pct([float(r["block"] == "caption")
                                            for r in answered_events]),
        "when_dates_right": pct([float(r["date_right"]) for r in dated]),
    }


def resolver_scores(articles: dict[str, dict[str, Any]], questions: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """How often resolve_dates gives the gold date for the gold answer's own words."""
    right = []
    for q in questions:
        if "date" not in q:
            continue
        article = articles[q["key"]]
        mentions = resolve_dates(article["text"], article["published"])
        start = q["answer_start"][0]
        found = mention_at(mentions, start, start + len(q["answers"][0]))
        gold = q["date"]
        right.append(found is not None and (
            (found.first, found.last) == (gold["from"], gold["to"])
            if isinstance(gold, dict) else found.value == gold))
    return {"n": len(right), "right": pct([float(x) for x in right])}


def run_answers(folder: Path, settings: Settings, split: str,
                labels: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    articles = read_jsonl(folder / "articles.jsonl")
    questions = [q for q in read_jsonl(folder / "questions.jsonl")
                 if split == "all" or q["split"] == split]
    with tempfile.TemporaryDirectory(prefix="qa-news-") as tmp:
        service = QAService(settings.model_copy(update={"data_dir": Path(tmp)}))
        added = service.add_documents([as_document(a) for a in articles])
        ids = {a["key"]: r.document.id for a, r in zip(articles, added, strict=True)}
        lines = {ids[key]: value for key, value in labels.items()}
        modes: dict[str, Any] = {}
        for mode in ("corpus", "article"):
            rows = []
            for q in questions:
                where = PassageFilter(document_ids=[ids[q["key"]]]) if mode == "article" else None
                rows.append(score(q, service.ask(q["question"], where=where), lines))
            modes[mode] = {**summarize(rows), "rows": rows}
        service.close()
    return modes


def format_mode(name: str, result: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v['f1']}" for k, v in result["by_kind"].items())
    return (f"{name}: n={result['questions']} EM {result['em']} F1 {result['f1']} | {kinds} | "
            f"cited {result['cited_blocks']} | event answers from captions "
            f"{result['event_answers_from_captions']}% | when dates right "
            f"{result['when_dates_right']}%")


def cmd_news(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.flat:
        settings = settings.model_copy(update={"article_structure": False, "caption_weight": 0.0})
    articles = read_jsonl(args.folder / "articles.jsonl")
    chosen = [a for a in articles if args.split == "all" or a["split"] == args.split]
    labels = {r["key"]: r["lines"] for r in read_jsonl(args.folder / "labels.jsonl")}
    # pages.jsonl: more labelled pages (tuning), for the line typing only
    pages = read_jsonl(args.folder / "pages.jsonl") if (args.folder / "pages.jsonl").exists() else []
    pages = [p for p in pages if args.split == "all" or p["split"] == args.split]
    result: dict[str, Any] = {"split": args.split, "flat": args.flat,
                              "caption_weight": settings.caption_weight}
    result["blocks"] = block_scores(chosen + pages,
                                    {**labels, **{p["key"]: p["lines"] for p in pages}})
    print("blocks: " + ", ".join(f"{k} P {v['precision']} R {v['recall']} (n={v['support']})"
                                 for k, v in result["blocks"].items()))
    questions = [q for q in read_jsonl(args.folder / "questions.jsonl")
                 if args.split == "all" or q["split"] == args.split]
    result["date_resolver"] = resolver_scores({a["key"]: a for a in articles}, questions)
    result["duplicates"] = duplicate_scores(read_jsonl(args.folder / "duplicates.jsonl"))
    dup = result["duplicates"]
    print(f"duplicates: {dup['pairs']} pairs ({dup['duplicates']} duplicates, all splits): "
          f"precision {dup['precision']}, recall {dup['recall']}, {dup['signature_ms']} ms a text")
    print(f"dates: resolve_dates gives the gold value for {result['date_resolver']['right']}% "
          f"of {result['date_resolver']['n']} gold answers")
    if not args.blocks_only:
        result["answers"] = run_answers(args.folder, settings, args.split, labels)
        for mode, part in result["answers"].items():
            print(format_mode(mode, part))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `qa eval news`."""
    p = subparsers.add_parser("news", help="news structure: typed lines, captions, dates",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, nargs="?", default=DEFAULT_DIR,
                   help="articles.jsonl, labels.jsonl, questions.jsonl (default: eval/gold/news)")
    p.add_argument("--split", choices=("tuning", "test", "all"), default="test")
    p.add_argument("--flat", action="store_true",
                   help="as before article structure: nothing typed, the whole text indexed")
    p.add_argument("--blocks-only", action="store_true",
                   help="only the line typing and date resolution (no models)")
    p.add_argument("--out", type=Path, default=None, help="JSON output file")
    p.set_defaults(func=cmd_news)
