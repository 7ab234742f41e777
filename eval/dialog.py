"""Conversational evaluation: `qa eval canard`, `qa eval coqa`, `qa eval quac`.

canard FILE
    Rewrite quality of the follow-up resolver (qa/followup/) against CANARD's human rewrites:
    corpus BLEU-4 and mean ROUGE-1 F (eval/text_metrics.py), next to two baselines computed in
    the same run: the raw question, and the question with the previous turn (its question and
    answer) prepended. Dialogs are replayed in order; the history the resolver sees holds the
    earlier questions, their answers (QuAC's), the resolver's own earlier rewrites, and the
    dialog's title as the topic. A table of typical failures follows (heuristic categories).
    CANARD dev is split by dialog (`split_of`: SHA-1 of the dialog id, even first byte = tuning
    half); `--half` picks the half reported (test by default), `--fit` first fits the
    candidate selector (qa/followup/selector.py) on the tuning half. Candidates are checked
    against the dialog's own answer spans (CANARD has no articles) with a small BM25; the
    rules' first choice and the selector without that check are reported beside, and how many
    self-contained questions (gold rewrite = question) each system changed.

coqa FILE / quac FILE
    Each dialog's story is ingested into a fresh data dir and its questions are asked turn by
    turn as one conversation through the ChatService (so follow-ups are resolved against the
    system's own earlier answers), restricted to that story. F1 per turn is the SQuAD token F1
    of the answer, maximised over the reference answers; CANNOTANSWER and "unknown" references
    are abstentions (an abstention scores 1 against them, an answer 0). Reported: overall F1,
    F1 by turn number, and per turn the question, the standalone question searched, the answer,
    whether it is cited, and F1. `--independent` asks every question on its own instead (the
    no-context baseline); `--gold-history` resolves follow-ups against the reference answers
    of the earlier turns instead of the system's own (as CoQA and QuAC models are usually
    evaluated), which separates resolution from the reader's earlier mistakes. A file whose
    questions carry a gold `standalone` question (eval/gold/sample-followups.json) also gets
    the standalone questions scored against it (exact and BLEU-4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import f1, max_over_golds
from eval.text_metrics import bleu_signature, corpus_bleu, mean_rouge1_f, sentence_bleu, tokenize

log = logging.getLogger(__name__)

ABSTENTIONS = {"cannotanswer", "unknown"}

# --------------------------------------------------------------------------- CANARD


@dataclass(frozen=True)
class CanardItem:
    dialog_id: str
    number: int  # Question_no, from 1
    title: str
    section: str
    history: tuple[tuple[str, str], ...]  # earlier (question, answer) pairs
    question: str
    rewrite: str


def load_canard(path: Path) -> list[CanardItem]:
    items = []
    for raw in json.loads(Path(path).read_text(encoding="utf-8")):
        hist = list(raw["History"])
        title, section = (hist[0], hist[1]) if len(hist) >= 2 else ("", "")
        rest = hist[2:]
        pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2))
        items.append(CanardItem(raw["QuAC_dialog_id"], int(raw["Question_no"]), title, section,
                                pairs, raw["Question"], raw["Rewrite"]))
    return items


def previous_turn_baseline(item: CanardItem) -> str:
    """The question with the previous turn (question and answer) prepended."""
    if not item.history:
        return item.question
    q, a = item.history[-1]
    return f"{q} {a} {item.question}"


@dataclass
class CanardResult:
    item: CanardItem
    rewrite: str
    ms: float
    candidates: list[tuple[str, str, dict[str, float]]] = field(default_factory=list)
    # (text, rewriter, features) of every candidate the resolver weighed


def split_of(dialog_id: str) -> str:
    """The fixed split of CANARD by dialog: "tune" when the first byte of the SHA-1 of the
    QuAC dialog id is even, else "test" (every question of a dialog on one side)."""
    return "tune" if hashlib.sha1(dialog_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def dialog_passages(items: Sequence[CanardItem]) -> dict[str, list[str]]:
    """Each dialog's passages, for checking candidates against text: the answers CANARD
    carries for it (QuAC answer spans, i.e. sentences of the section the dialog is about),
    without CANNOTANSWER. CANARD has no articles; this is the part of the article it has."""
    out: dict[str, dict[str, None]] = defaultdict(dict)
    for item in items:
        for _q, answer in item.history:
            if answer.strip() and answer.strip().lower() not in ABSTENTIONS:
                out[item.dialog_id][answer.strip()] = None
    return {d: list(p) for d, p in out.items()}


class Bm25:
    """A small in-memory BM25 (k1 1.2, b 0.75) over a few passages: a first-stage search for
    the CANARD evaluation, where there is no corpus to ask."""

    def __init__(self, passages: Sequence[str], k1: float = 1.2, b: float = 0.75):
        self.passages = list(passages)
        self.docs = [Counter(_content(p)) for p in self.passages]
        self.k1, self.b = k1, b
        lengths = [sum(d.values()) for d in self.docs]
        self.avg = (sum(lengths) / len(lengths)) if lengths else 1.0
        self.lengths = lengths
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def __call__(self, query: str) -> list[tuple[str, float]]:
        terms = set(_content(query))
        scored = []
        for text, d, length in zip(self.passages, self.docs, self.lengths, strict=True):
            score = 0.0
            for w in terms:
                tf = d.get(w, 0)
                if tf:
                    score += self.idf[w] * tf * (self.k1 + 1) / (
                        tf + self.k1 * (1 - self.b + self.b * length / self.avg))
            if score > 0:
                scored.append((text, score))
        scored.sort(key=lambda x: -x[1])
        return scored


def _content(text: str) -> list[str]:
    from qa.followup.selector import content_words

    return content_words(text)


def run_canard(items: Sequence[CanardItem], resolver: Any = None, search: bool = True
               ) -> list[CanardResult]:
    """Resolve every question, dialog by dialog, feeding the resolver its own rewrites; each
    earlier turn is analysed once and its analysis kept with it. With `search`, candidates
    are checked against the dialog's passages (`dialog_passages`, searched with `Bm25`)."""
    from qa.followup import Exchange, Resolver, analyse

    resolver = resolver if resolver is not None else Resolver()
    own: dict[tuple[str, int], str] = {}
    analysed: dict[tuple[str, int], Any] = {}
    passages = dialog_passages(items) if search else {}
    searches: dict[str, Bm25] = {}
    results = []
    first = _first_seen(items)
    for item in sorted(items, key=lambda i: (first[i.dialog_id], i.number)):
        history = []
        for n, (q, a) in enumerate(item.history, start=1):
            key = (item.dialog_id, n)
            turn = Exchange(question=q, answer=a, standalone_question=own.get(key))
            if key not in analysed:
                analysed[key] = analyse(turn)
            history.append(turn)
        if search and item.dialog_id not in searches:
            searches[item.dialog_id] = Bm25(passages.get(item.dialog_id, []))
        started = time.perf_counter()
        resolution = resolver.resolve(
            item.question, history, topic=item.title or None,
            search=searches[item.dialog_id] if search else None,
            analyses=[analysed[(item.dialog_id, n)] for n in range(1, len(history) + 1)])
        ms = (time.perf_counter() - started) * 1000
        own[(item.dialog_id, item.number)] = resolution.standalone
        results.append(CanardResult(item, resolution.standalone, ms, [
            (s.candidate.text, s.candidate.source, s.features)
            for s in resolution.candidates]))
    return results


def _first_seen(items: Sequence[CanardItem]) -> dict[str, int]:
    order: dict[str, int] = {}
    for i in items:
        order.setdefault(i.dialog_id, len(order))
    return order


_PRONOUNS = {"he", "she", "him", "his", "her", "hers", "it", "its", "they", "them", "their",
             "theirs"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_FUNCTION_WORDS = {"the", "a", "an", "of", "and", "in", "'", "s", "?", ",", ".", "did", "do",
                   "does"}


def failure_category(item: CanardItem, rewrite: str) -> str | None:
    """A heuristic label for a rewrite that differs from the gold one (None when it matches)."""
    norm = lambda s: " ".join(tokenize(s))  # noqa: E731
    q, ours, gold = norm(item.question), norm(rewrite), norm(item.rewrite)
    if ours == gold:
        return None
    q_tokens, gold_tokens, our_tokens = set(q.split()), set(gold.split()), set(ours.split())
    if ours == q:
        if q == gold:
            return None
        if q_tokens & _PRONOUNS and q_tokens & _PRONOUNS - gold_tokens:
            return "pronoun left unresolved"
        if q_tokens & _DEMONSTRATIVES:
            return "demonstrative / event reference left ('this', 'that')"
        if not item.history:
            return "first question needs the topic added"
        return "implicit context left out (no pronoun to resolve)"
    if q == gold:
        return "rewrote a question that was already standalone"
    inserted = our_tokens - q_tokens - _FUNCTION_WORDS
    if inserted - gold_tokens:
        return "wrong or partly wrong referent (or ellipsis filler)"
    missing = gold_tokens - our_tokens - q_tokens
    if len(missing) >= 3:
        return "right referent, gold adds more context"
    return "right referent, different wording"


RESOLVER = "resolver (qa/followup/)"


def canard_metrics(results: Sequence[CanardResult],
                   others: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """BLEU / ROUGE-1 F of the baselines and the resolver (`others`: more systems' rewrites
    of the same questions, e.g. ablations), exact rewrites, how many self-contained questions
    (gold rewrite = question) were changed, rewrite time and failure classes."""
    refs = [[r.item.rewrite] for r in results]
    systems: dict[str, Sequence[str]] = {
        "raw question": [r.item.question for r in results],
        "previous turn prepended": [previous_turn_baseline(r.item) for r in results],
    }
    systems.update(others or {})
    systems[RESOLVER] = [r.rewrite for r in results]
    standalone = [i for i, r in enumerate(results)
                  if _norm(r.item.question) == _norm(r.item.rewrite)]
    rows = {}
    for name, outputs in systems.items():
        changed = sum(o.strip() != r.item.question.strip() for o, r in zip(outputs, results,
                                                                            strict=True))
        rows[name] = {
            "bleu": round(corpus_bleu(list(outputs), refs), 2),
            "rouge1_f": round(mean_rouge1_f(list(outputs), refs), 2),
            "changed": changed,
            "exact": sum(_norm(o) == _norm(r.item.rewrite) for o, r in zip(outputs, results,
                                                                            strict=True)),
            "standalone_changed": sum(_norm(outputs[i]) != _norm(results[i].item.question)
                                      for i in standalone),
        }
    needs = [r for r in results if _norm(r.item.question) != _norm(r.item.rewrite)]
    categories: Counter[str] = Counter()
    examples: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in results:
        cat = failure_category(r.item, r.rewrite)
        if cat is None:
            continue
        categories[cat] += 1
        if len(examples[cat]) < 3:
            examples[cat].append({"title": r.item.title, "question": r.item.question,
                                  "ours": r.rewrite, "gold": r.item.rewrite})
    ms = [r.ms for r in results]
    changed_standalone = rows[RESOLVER]["standalone_changed"]
    return {
        "questions": len(results),
        "dialogs": len({r.item.dialog_id for r in results}),
        "gold_differs_from_question": len(needs),
        "self_contained": len(standalone),
        "self_contained_changed": changed_standalone,
        "self_contained_changed_pct": round(100 * changed_standalone / len(standalone), 2)
        if standalone else 0.0,
        "exact_match": sum(_norm(r.rewrite) == _norm(r.item.rewrite) for r in results),
        "systems": rows,
        "bleu_signature": bleu_signature(),  # sacreBLEU's, to quote with the BLEU column
        "rewrite_ms": {"p50": round(statistics.median(ms), 2) if ms else 0.0,
                       "p95": round(_percentile(ms, 95), 2), "max": round(max(ms, default=0), 2)},
        "failures": [{"category": c, "count": n, "share": round(100 * n / len(results), 1),
                      "examples": examples[c]} for c, n in categories.most_common()],
    }


def _norm(text: str) -> str:
    return " ".join(tokenize(text))


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def format_canard(metrics: dict[str, Any]) -> str:
    lines = [f"CANARD ({metrics.get('half', 'all')}): {metrics['questions']} questions in "
             f"{metrics['dialogs']} dialogs ({metrics['gold_differs_from_question']} whose gold "
             f"rewrite differs from the question); exact rewrites: {metrics['exact_match']}; "
             f"self-contained questions changed: {metrics['self_contained_changed']} of "
             f"{metrics['self_contained']} ({metrics['self_contained_changed_pct']}%)", "",
             "| system | BLEU-4 | ROUGE-1 F | exact | questions changed | self-contained changed |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in metrics["systems"].items():
        lines.append(f"| {name} | {row['bleu']:.2f} | {row['rouge1_f']:.2f} | {row['exact']} | "
                     f"{row['changed']} | {row['standalone_changed']} |")
    t = metrics["rewrite_ms"]
    lines += ["", f"resolver time per question (candidates and checks included): p50 "
                  f"{t['p50']} ms, p95 {t['p95']} ms, max {t['max']} ms", "",
              "Failure classes (heuristic categories):", "",
              "| category | count | share | example: question -> ours / gold |",
              "|---|---:|---:|---|"]
    for f in metrics["failures"]:
        ex = f["examples"][0] if f["examples"] else None
        sample = (f"[{ex['title']}] {ex['question']} -> {ex['ours']} / {ex['gold']}"
                  if ex else "")
        lines.append(f"| {f['category']} | {f['count']} | {f['share']}% | "
                     f"{sample.replace('|', '/')} |")
    return "\n".join(lines)


def selector_groups(results: Sequence[CanardResult]
                    ) -> tuple[list[list[dict[str, float]]], list[list[float]]]:
    """Training groups for the selector: one per question with more than one candidate whose
    candidates do not all match the gold rewrite equally; the target is spread over the
    candidates closest to the gold rewrite (sentence BLEU)."""
    groups, targets = [], []
    for r in results:
        if len(r.candidates) < 2:
            continue
        sims = [sentence_bleu(text, r.item.rewrite) for text, _s, _f in r.candidates]
        best = max(sims)
        if best - min(sims) < 1e-9:
            continue
        groups.append([f for _t, _s, f in r.candidates])
        targets.append([1.0 if abs(x - best) < 1e-9 else 0.0 for x in sims])
    return groups, targets


def fit_selector(results: Sequence[CanardResult]) -> tuple[Any, dict[str, Any]]:
    """Fit both selector models on `results` (the tuning half, resolved with search
    features present and the rules' first choice fed forward)."""
    from qa.followup.selector import BASE_FEATURES, SEARCH_FEATURES, Selector, fit, log_likelihood

    groups, targets = selector_groups(results)
    if not groups:
        raise ValueError("no question with competing candidates to fit on")
    with_search = fit(groups, targets, BASE_FEATURES + SEARCH_FEATURES)
    without = fit(groups, targets, BASE_FEATURES)
    about = {"groups": len(groups), "questions": len(results),
             "log_likelihood_with_search": round(log_likelihood(with_search, groups, targets), 4),
             "log_likelihood_without_search": round(log_likelihood(without, groups, targets),
                                                    4)}
    return Selector(with_search, without), about


def cmd_canard(args: argparse.Namespace) -> int:
    from qa.followup import Resolver
    from qa.followup.selector import MODEL_PATH, Selector

    items = load_canard(args.file)
    everything = items
    if args.half != "all":
        items = [i for i in items if split_of(i.dialog_id) == args.half]
    if args.limit:
        items = items[: args.limit]
    if args.fit:
        tune = [i for i in everything if split_of(i.dialog_id) == "tune"]
        fitted, about = fit_selector(run_canard(
            tune, Resolver(selector=Selector(None, None), always_search=True)))
        about.update({"data": args.file.name, "split": "tune (split_of in eval/dialog.py)",
                      "fitted": time.strftime("%Y-%m-%d")})
        out_model = args.model or MODEL_PATH
        fitted.save(out_model, about)
        print(f"fitted the selector on {about['groups']} tuning questions with competing "
              f"candidates; wrote {out_model}")
    selector = Selector.load(args.model or MODEL_PATH)
    results = run_canard(items, Resolver(selector=selector), search=not args.no_search)
    others = {
        "rules' first choice (no selector)": [r.rewrite for r in run_canard(
            items, Resolver(selector=Selector(None, None)), search=False)],
    }
    if not args.no_search:
        others["selector without search"] = [r.rewrite for r in run_canard(
            items, Resolver(selector=selector), search=False)]
    metrics = canard_metrics(results, others)
    metrics["file"] = str(args.file)
    metrics["half"] = args.half
    metrics["search"] = not args.no_search
    print(format_canard(metrics))
    out = args.out or Path("runs/eval") / f"canard-{args.file.stem}-{args.half}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    metrics["rewrites"] = [{"dialog": r.item.dialog_id, "turn": r.item.number,
                            "question": r.item.question, "ours": r.rewrite,
                            "gold": r.item.rewrite,
                            "candidates": [c for c, _s, _f in r.candidates]} for r in results]
    out.write_text(json.dumps(metrics, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


# --------------------------------------------------------------------------- CoQA / QuAC


@dataclass(frozen=True)
class DialogTurn:
    question: str
    golds: tuple[str, ...]  # reference answers; "" = abstention
    evidence: str = ""  # the reference rationale (CoQA span_text), for --gold-history
    standalone: str | None = None  # the gold standalone question, where the file has one


@dataclass(frozen=True)
class Dialog:
    id: str
    title: str
    text: str
    turns: tuple[DialogTurn, ...]


def _gold(text: str) -> str:
    return "" if text.strip().lower().rstrip(".") in ABSTENTIONS else text.strip()


def story_title(story: str) -> str:
    """A title for a CoQA story (which has none, only a file name): its first line when that
    is short (a news story's headline), else its first words."""
    first = story.strip().split("\n", 1)[0].strip()
    if 0 < len(first) <= 100:
        return first
    return " ".join(story.split()[:8]) + " …"


def load_coqa(path: Path) -> list[Dialog]:
    """CoQA 1.0 JSON: answers are `input_text` plus any `additional_answers`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    dialogs = []
    for d in data["data"]:
        extra = d.get("additional_answers", {}) or {}
        by_turn: dict[int, list[str]] = defaultdict(list)
        rationale: dict[int, str] = {}
        for a in d["answers"]:
            by_turn[a["turn_id"]].append(a["input_text"])
            rationale[a["turn_id"]] = a.get("span_text", "") if a.get("span_start", -1) >= 0 \
                else ""
        for answers in extra.values():
            for a in answers:
                by_turn[a["turn_id"]].append(a["input_text"])
        turns = tuple(DialogTurn(q["input_text"], tuple(dict.fromkeys(
            _gold(t) for t in by_turn[q["turn_id"]])), rationale.get(q["turn_id"], ""),
            q.get("standalone"))
            for q in d["questions"])
        dialogs.append(Dialog(d["id"], story_title(d["story"]), d["story"], turns))
    return dialogs


def load_quac(path: Path) -> list[Dialog]:
    """QuAC JSON (SQuAD-like `data` -> `paragraphs` -> `qas`); the context's trailing
    CANNOTANSWER marker is dropped from the stored text."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    dialogs = []
    for article in data["data"]:
        title = article.get("title", "")
        section = article.get("section_title", "")
        for n, par in enumerate(article["paragraphs"]):
            text = re.sub(r"\s*CANNOTANSWER\s*$", "", par["context"])
            turns = []
            for qa in par["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                orig = qa.get("orig_answer", {}).get("text")
                if orig:
                    answers.append(orig)
                golds = tuple(dict.fromkeys(_gold(a) for a in answers))
                turns.append(DialogTurn(qa["question"], golds, golds[-1] if golds else ""))
            name = f"{title} — {section}" if section else title
            dialogs.append(Dialog(par.get("id", f"{title}-{n}"), name, text, tuple(turns)))
    return dialogs


@dataclass
class TurnResult:
    dialog: str
    turn: int
    question: str
    standalone_question: str
    prediction: str  # "" = abstained
    golds: list[str]
    f1: float
    cited: bool  # an answer with a citation holding it (abstentions: False)
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    gold_standalone: str | None = None


def turn_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1, maximised over the references ("" references are abstentions)."""
    return max_over_golds(f1, prediction, list(golds) or [""])


MODES = ("conversation", "independent", "gold-history")


def run_dialogs(dialogs: Sequence[Dialog], base: Any, mode: str = "conversation",
                progress: bool = True) -> list[TurnResult]:
    """Ask every dialog turn by turn in a fresh data dir (each dialog limited to its story)."""
    from qa.chat import first_stage_search, open_chat
    from qa.followup import Exchange, resolve
    from qa.retriever import PassageFilter
    from qa.service import QAService
    from qa.types import NewDocument

    results: list[TurnResult] = []
    with tempfile.TemporaryDirectory(prefix="qa-eval-dialog-") as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp)})
        service = QAService(settings)
        chat = open_chat(service)
        try:
            for dialog in dialogs:
                doc = service.add_documents([NewDocument(dialog.title or dialog.id,
                                                         dialog.text)])[0].document
                where = PassageFilter(document_ids=[doc.id])
                conversation: str | None = None
                history: list[Exchange] = []
                for n, turn in enumerate(dialog.turns, start=1):
                    if mode == "independent":
                        answer = service.ask(turn.question, where=where)
                        answer.standalone_question = turn.question
                    elif mode == "gold-history":
                        standalone = resolve(turn.question, history,
                                             search=first_stage_search(service, where)
                                             if history else None)
                        answer = service.ask(turn.question, where=where, search_query=standalone)
                        answer.standalone_question = standalone
                        history.append(Exchange(
                            turn.question, turn.golds[0] or None, standalone,
                            (turn.evidence,) if turn.evidence else (), dialog.title))
                    else:
                        answer = chat.ask(turn.question, conversation, where=where)
                        conversation = answer.conversation_id
                    prediction = answer.answer or ""
                    cited = answer.answer is not None and any(
                        c.answer_start is not None and c.start <= c.answer_start
                        and c.answer_end is not None and c.answer_end <= c.end
                        for c in answer.citations)
                    result = TurnResult(dialog.id, n, turn.question,
                                        answer.standalone_question or turn.question, prediction,
                                        list(turn.golds), turn_f1(prediction, turn.golds), cited,
                                        answer.confidence, dict(answer.timings_ms),
                                        turn.standalone)
                    results.append(result)
                    if progress:
                        print(f"  {dialog.id[:24]:24} {n:>2} F1 {result.f1:5.2f}  "
                              f"{turn.question[:50]!r}", file=sys.stderr)
        finally:
            chat.close()
            service.close()
    return results


def dialog_metrics(results: Sequence[TurnResult]) -> dict[str, Any]:
    by_turn: dict[int, list[float]] = defaultdict(list)
    for r in results:
        by_turn[r.turn].append(r.f1)
    answerable = [r for r in results if any(g for g in r.golds)]
    unanswerable = [r for r in results if not any(g for g in r.golds)]
    rewritten = [r for r in results if r.standalone_question.strip() != r.question.strip()]
    labelled = [r for r in results if r.gold_standalone]
    rewrites: dict[str, Any] = {}
    if labelled:
        rewrites = {
            "turns": len(labelled),
            "exact": sum(_norm(r.standalone_question) == _norm(r.gold_standalone or "")
                         for r in labelled),
            "bleu": round(corpus_bleu([r.standalone_question for r in labelled],
                                      [[r.gold_standalone or ""] for r in labelled]), 2),
            "follow_ups": sum(_norm(r.question) != _norm(r.gold_standalone or "")
                              for r in labelled),
            "follow_ups_exact": sum(
                _norm(r.standalone_question) == _norm(r.gold_standalone or "")
                for r in labelled if _norm(r.question) != _norm(r.gold_standalone or "")),
        }
    spent = [r.timings_ms["conversation"] for r in results if "conversation" in r.timings_ms]
    rewriting = [r.timings_ms["rewrite"] for r in results if "rewrite" in r.timings_ms]
    return {
        "rewrite_accuracy": rewrites,
        # what the conversation added to each turn: history read, the analysis of earlier
        # turns a follow-up needs, resolution (candidates and their searches), storing the turn
        # (conversation mode only)
        "conversation_ms": {"p50": round(statistics.median(spent), 2),
                            "p95": round(_percentile(spent, 95), 2)} if spent else {},
        "rewrite_ms": {"p50": round(statistics.median(rewriting), 2),
                       "p95": round(_percentile(rewriting, 95), 2)} if rewriting else {},
        "turns": len(results),
        "dialogs": len({r.dialog for r in results}),
        "f1": _pct(r.f1 for r in results),
        "f1_by_turn": {t: {"f1": _pct(v), "n": len(v)} for t, v in sorted(by_turn.items())},
        "answerable_f1": _pct(r.f1 for r in answerable),
        "answerable": len(answerable),
        "abstention_turns": len(unanswerable),
        "abstentions_right": sum(r.prediction == "" for r in unanswerable),
        "answered": sum(bool(r.prediction) for r in results),
        "answered_with_citation": sum(r.cited for r in results),
        "correct_turns": sum(r.f1 >= 0.999 for r in results),
        "rewritten": len(rewritten),
    }


def _pct(values: Iterable[float]) -> float:
    items = list(values)
    return round(100 * sum(items) / len(items), 2) if items else 0.0


def format_dialogs(name: str, metrics: dict[str, Any], results: Sequence[TurnResult]) -> str:
    m = metrics
    lines = [
        f"{name}: {m['turns']} turns in {m['dialogs']} dialogs; F1 {m['f1']:.2f} "
        f"(answerable turns {m['answerable_f1']:.2f} over {m['answerable']}; abstentions right "
        f"{m['abstentions_right']}/{m['abstention_turns']}); fully correct turns "
        f"{m['correct_turns']}; answered {m['answered']}, with citation "
        f"{m['answered_with_citation']}; follow-ups rewritten {m['rewritten']}",
        "", "F1 by turn number:", "", "| turn | F1 | n |", "|---:|---:|---:|",
    ]
    for t, row in m["f1_by_turn"].items():
        lines.append(f"| {t} | {row['f1']:.2f} | {row['n']} |")
    if m.get("conversation_ms"):
        lines += ["", f"Conversation overhead per turn (history, analysis of the earlier turns "
                      f"a follow-up needs, resolution with its searches, storing): p50 "
                      f"{m['conversation_ms']['p50']} ms, "
                      f"p95 {m['conversation_ms']['p95']} ms; resolution (with that analysis) p50 "
                      f"{m['rewrite_ms']['p50']} ms, p95 {m['rewrite_ms']['p95']} ms"]
    rw = m.get("rewrite_accuracy") or {}
    if rw:
        lines += ["", f"Standalone questions against the gold ones: exact {rw['exact']}/"
                      f"{rw['turns']} (follow-ups {rw['follow_ups_exact']}/{rw['follow_ups']}), "
                      f"BLEU-4 {rw['bleu']:.2f}"]
    lines += ["", "| dialog | turn | question | searched | gold standalone | answer | gold | "
                  "cited | F1 |", "|---|---:|---|---|---|---|---|---|---:|"]
    for r in results:
        searched = "" if r.standalone_question == r.question else r.standalone_question
        gold = r.golds[0] if r.golds and r.golds[0] else "(abstain)"
        gold_q = "" if not r.gold_standalone else (
            "same" if _norm(r.gold_standalone) == _norm(r.standalone_question)
            else r.gold_standalone)
        cells = [r.dialog[:28], str(r.turn), r.question, searched, gold_q,
                 r.prediction or "(abstain)", gold, "yes" if r.cited else "no", f"{r.f1:.2f}"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _cell(text: str, width: int = 70) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_dialogs(args: argparse.Namespace) -> int:
    from qa.settings import get_settings

    dialogs = (load_coqa if args.dataset == "coqa" else load_quac)(args.file)
    if args.limit:
        dialogs = dialogs[: args.limit]
    base = get_settings()
    if args.reader:
        base = base.model_copy(update={"reader": args.reader})
    mode = "independent" if args.independent else (
        "gold-history" if args.gold_history else "conversation")
    results = run_dialogs(dialogs, base, mode, progress=not args.quiet)
    metrics = dialog_metrics(results)
    metrics["file"] = str(args.file)
    metrics["mode"] = mode
    print(format_dialogs(f"{args.dataset} {args.file.name} ({metrics['mode']})", metrics,
                         results))
    suffix = "" if mode == "conversation" else f"-{mode}"
    out = args.out or Path("runs/eval") / f"{args.dataset}-{args.file.stem}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    metrics["results"] = [asdict(r) for r in results]
    out.write_text(json.dumps(metrics, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `qa eval canard`, `qa eval coqa` and `qa eval quac`."""
    p = subparsers.add_parser("canard", help="follow-up rewriting vs CANARD's gold rewrites",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="CANARD JSON (e.g. dev.json)")
    p.add_argument("--half", choices=["test", "tune", "all"], default="test",
                   help="which half of the fixed split by dialog to report on (default test)")
    p.add_argument("--fit", action="store_true",
                   help="first fit the candidate selector on the tuning half and save it")
    p.add_argument("--model", type=Path, default=None,
                   help="selector file (default qa/followup/selector.json)")
    p.add_argument("--no-search", action="store_true",
                   help="do not check candidates against the dialog's passages")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.add_argument("--out", type=Path, default=None, help="JSON output file")
    p.set_defaults(func=cmd_canard)
    for name, what in (("coqa", "CoQA 1.0 JSON"), ("quac", "QuAC JSON")):
        p = subparsers.add_parser(name, help=f"{what}: dialogs asked turn by turn",
                                  description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("file", type=Path, help=what)
        p.add_argument("--limit", type=int, default=None, help="first N dialogs only")
        how = p.add_mutually_exclusive_group()
        how.add_argument("--independent", action="store_true",
                         help="ask each question on its own (no conversation): the baseline")
        how.add_argument("--gold-history", action="store_true",
                         help="resolve follow-ups against the reference answers of earlier turns")
        p.add_argument("--reader", choices=["neural", "rules"], default=None,
                       help="default: QA_READER (neural, falling back to rules)")
        p.add_argument("--out", type=Path, default=None, help="JSON output file")
        p.add_argument("-q", "--quiet", action="store_true", help="no per-turn progress")
        p.set_defaults(func=cmd_dialogs)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: `python -m eval.dialog canard FILE`."""
    parser = argparse.ArgumentParser(prog="python -m eval.dialog")
    add_parser(parser.add_subparsers(dest="dataset", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
