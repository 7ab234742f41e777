"""`qa eval squad`: the service on SQuAD v1.1/v2.0 files, in three modes.

* reading: each question is read from its own paragraph only (the reader's own accuracy).
* corpus: every paragraph of the file goes into one fresh, empty index and each question is asked
  against the whole corpus through `QAService.ask`, as a user would ask.
* retrieval: the corpus mode's index, but only the first retrieval stage runs (no reader, so no
  reader re-ranking): recall and latency of search alone, cheap enough to sweep passage designs.

Reading and corpus modes run the service with `abstain_threshold = 0` so that the reader's best
span is always visible, and apply the configured threshold afterwards exactly as `QAService.compose` does
(answer when `confidence >= threshold`). That gives the product's predictions and, from the same
run, the raw spans that calibrate the threshold. Corpus-mode retrieval ranks are those of the
passages `ask` returns (widened when QA_READ_EXPAND_SENTENCES > 0).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from embeddings.splitter import split_sentences
from eval.metrics import (
    exact_match,
    expected_calibration_error,
    f1,
    hit_rate_at_k,
    max_over_golds,
    mrr_at_k,
    reliability_bins,
    scoring_golds,
    squad_scores,
)
from eval.report import stage_summary, summarize_ms, write_squad_report
from eval.splits import dev_titles, split_articles
from qa.service import QAService, QuestionError, abstain_threshold
from qa.settings import Settings, get_settings
from qa.timing import StageTimer
from qa.types import Answer, NewDocument, RetrievedPassage

log = logging.getLogger(__name__)

MODES = ("reading", "corpus")  # what "both" runs
RETRIEVAL_MODE = "retrieval"
RETRIEVAL_KS = (1, 5, 10)
QUESTION_TYPES = ("what", "who", "when", "where", "why", "how", "how many/much", "which", "other")
_WH = {"what": "what", "who": "who", "whom": "who", "whose": "who", "when": "when",
       "where": "where", "why": "why", "which": "which", "how": "how"}
_WORD = re.compile(r"[a-z]+")

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class GoldSpan:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class SquadParagraph:
    key: str  # stable id: article and paragraph position in the file, "a0003-p0012"
    title: str
    context: str


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    paragraph: int  # index into SquadDataset.paragraphs
    answers: tuple[GoldSpan, ...]  # empty for unanswerable (v2.0 is_impossible) questions
    is_impossible: bool = False

    @property
    def golds(self) -> list[str]:
        """Gold answer texts as eval.metrics expects them ([] = unanswerable)."""
        return [] if self.is_impossible else [a.text for a in self.answers]


@dataclass
class SquadDataset:
    version: str
    paragraphs: list[SquadParagraph]
    questions: list[SquadQuestion]


def paragraph_key(article: int, paragraph: int) -> str:
    return f"a{article:04d}-p{paragraph:04d}"


def paragraph_title(article_title: str) -> str:
    """An article's title as its paragraphs carry it ("Super_Bowl_50" -> "Super Bowl 50")."""
    return article_title.replace("_", " ").strip()


def parse_squad(data: dict[str, Any]) -> SquadDataset:
    """Paragraphs and questions (file order) of a SQuAD v1.1/v2.0 JSON object.

    v2.0 `plausible_answers` are not golds; repeated gold answers (same text and offset) count
    once; an impossible question keeps no answers."""
    paragraphs: list[SquadParagraph] = []
    questions: list[SquadQuestion] = []
    seen_ids: set[str] = set()
    for a, article in enumerate(data["data"]):
        title = paragraph_title(str(article.get("title", "")))
        for p, par in enumerate(article["paragraphs"]):
            index = len(paragraphs)
            paragraphs.append(SquadParagraph(paragraph_key(a, p), title, par["context"]))
            for qa in par["qas"]:
                qid = str(qa["id"])
                if qid in seen_ids:
                    raise ValueError(f"question id {qid!r} appears twice")
                seen_ids.add(qid)
                impossible = bool(qa.get("is_impossible", False))
                spans: list[GoldSpan] = []
                if not impossible:
                    for ans in qa.get("answers", []):
                        span = GoldSpan(ans["text"], int(ans["answer_start"]))
                        if span not in spans:
                            spans.append(span)
                questions.append(SquadQuestion(qid, qa["question"], index, tuple(spans),
                                               impossible))
    return SquadDataset(str(data.get("version", "")), paragraphs, questions)


def load_squad_file(path: Path, split: str | None = None) -> SquadDataset:
    """A SQuAD file, optionally cut to one side of the reader split (`reader-dev` keeps the
    articles of eval/splits.py's dev split, `reader-train` the others)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if split is not None:
        titles = dev_titles(Path(path).with_name("dev-v1.1.json"))
        data["data"] = split_articles(data["data"], titles, keep=split == "reader-dev")
    return parse_squad(data)


def questions_of_split(dataset: SquadDataset, path: Path, split: str) -> list[SquadQuestion]:
    """The questions on one side of the reader split, every paragraph staying in the dataset
    (corpus mode then still searches the whole file)."""
    dev = {paragraph_title(t) for t in dev_titles(Path(path).with_name("dev-v1.1.json"))}
    keep = split == "reader-dev"
    return [q for q in dataset.questions if (dataset.paragraphs[q.paragraph].title in dev) == keep]


def anchor_scores(anchor_dir: Path, questions: Sequence[SquadQuestion]) -> dict[str, Any]:
    """Scores of stored published predictions ({qid: text} files) on exactly `questions`."""
    golds = {q.id: q.golds for q in questions}
    out: dict[str, Any] = {}
    for path in sorted(Path(anchor_dir).glob("*.json")):
        predictions = json.loads(path.read_text(encoding="utf-8"))
        scores = squad_scores(golds, {q: predictions.get(q, "") for q in golds})
        out[path.stem] = {k: round(v, 2) if isinstance(v, float) else v
                          for k, v in scores.items()}
    return out


def sample_questions(questions: Sequence[SquadQuestion], limit: int | None,
                     seed: int = 0) -> list[SquadQuestion]:
    """`limit` questions drawn with a seeded generator (reproducible), kept in file order."""
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]


def question_type(question: str) -> str:
    """The first wh-word of the question; "how many"/"how much" are a type of their own."""
    words = _WORD.findall(question.lower())
    for i, word in enumerate(words):
        if word in _WH:
            if word == "how" and i + 1 < len(words) and words[i + 1] in ("many", "much"):
                return "how many/much"
            return _WH[word]
    return "other"


# --------------------------------------------------------------------------- per-question results


@dataclass
class Cited:
    """Where an answer says it came from (document offsets)."""

    document_id: str
    answer_start: int
    answer_end: int
    start: int
    end: int


@dataclass
class QuestionResult:
    id: str
    question: str
    type: str
    golds: list[str]
    prediction: str  # what the product answers: "" when it abstains
    raw_prediction: str  # the reader's best span, "" only when it found none
    confidence: float
    no_answer_probability: float
    cited: Cited | None  # the raw span's citation
    citation_hit: bool | None  # raw span overlaps a gold span's location; None without a span
    offsets_ok: bool | None  # raw span == stored text at its offsets; None without a span
    retrieval_rank: int | None = None  # corpus mode: rank of the first passage with a gold span
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def answered(self) -> bool:
        return bool(self.prediction)


def eval_settings(base: Settings, data_dir: Path) -> Settings:
    """The settings an evaluation service runs with: its own data dir and no abstention (the
    configured threshold is applied afterwards; see the module docstring)."""
    return base.model_copy(update={"data_dir": Path(data_dir), "abstain_threshold": 0.0})


def overlaps(start: int, end: int, spans: Sequence[GoldSpan]) -> bool:
    """Whether [start, end) shares at least one character with one of `spans`."""
    return any(start < g.end and g.start < end for g in spans)


def contains_gold(passage: RetrievedPassage, document_id: str, spans: Sequence[GoldSpan]) -> bool:
    """Whether the passage is of `document_id` and its [start, end) holds a whole gold span."""
    return passage.document_id == document_id and any(
        passage.start <= g.start and g.end <= passage.end for g in spans
    )


def first_gold_rank(passages: Sequence[RetrievedPassage], document_id: str,
                    spans: Sequence[GoldSpan]) -> int | None:
    """1-based rank of the first passage holding a whole gold span, or None."""
    return next((rank for rank, p in enumerate(passages, start=1)
                 if contains_gold(p, document_id, spans)), None)


def _result(q: SquadQuestion, answer: Answer, threshold: float, doc_id: str,
            text_of: Callable[[str], str], latency_ms: float) -> QuestionResult:
    """Score-ready result of one answer; `text_of` gives a stored document's text by id."""
    raw = answer.answer or ""
    cited: Cited | None = None
    hit: bool | None = None
    ok: bool | None = None
    if answer.answer is not None:
        c = next(c for c in answer.citations if c.answer_start is not None)
        assert c.answer_start is not None and c.answer_end is not None
        cited = Cited(c.document_id, c.answer_start, c.answer_end, c.start, c.end)
        hit = c.document_id == doc_id and overlaps(c.answer_start, c.answer_end, q.answers)
        text = text_of(c.document_id)
        ok = text[c.answer_start : c.answer_end] == raw and text[c.start : c.end] == c.quote
    return QuestionResult(
        id=q.id, question=q.question, type=question_type(q.question), golds=q.golds,
        prediction=raw if answer.confidence >= threshold else "", raw_prediction=raw,
        confidence=answer.confidence, no_answer_probability=answer.no_answer_probability,
        cited=cited, citation_hit=hit, offsets_ok=ok, latency_ms=round(latency_ms, 2),
        timings_ms=dict(answer.timings_ms),
    )


def _texts(texts: dict[str, str]) -> Callable[[str], str]:
    return lambda document_id: texts.get(document_id, "")


def _abstention(q: SquadQuestion, error: str) -> QuestionResult:
    return QuestionResult(q.id, q.question, question_type(q.question), q.golds, "", "", 0.0, 1.0,
                          None, None, None, error=error)


def _check_empty_threshold(service: QAService) -> None:
    if service.settings.abstain_threshold != 0.0:
        raise ValueError("evaluation services run with abstain_threshold=0 (see eval_settings)")


def paragraph_passage(index: int, paragraph: SquadParagraph) -> RetrievedPassage:
    """The whole paragraph as one passage (reading mode), with its sentence spans."""
    return RetrievedPassage(
        passage_id=index, document_id=paragraph.key, title=paragraph.title, start=0,
        end=len(paragraph.context), text=paragraph.context, score=1.0,
        sentences=tuple((s.start, s.end) for s in split_sentences(paragraph.context)),
    )


def run_reading(service: QAService, dataset: SquadDataset, questions: Sequence[SquadQuestion],
                threshold: float, progress: bool = False) -> list[QuestionResult]:
    """Answer each question from its own paragraph only (service.reader + service.compose)."""
    _check_empty_threshold(service)
    passages: dict[int, RetrievedPassage] = {}
    results = []
    for q in tqdm(questions, desc="reading", unit="q", disable=not progress):
        par = dataset.paragraphs[q.paragraph]
        if q.paragraph not in passages:
            passages[q.paragraph] = paragraph_passage(q.paragraph, par)
        passage = passages[q.paragraph]
        question = q.question.strip()
        if not question:
            results.append(_abstention(q, "empty question"))
            continue
        t0 = time.perf_counter()
        result = service.reader.read(question, [passage])
        read_ms = (time.perf_counter() - t0) * 1000
        answer = service.compose(question, result, [passage], {"read": read_ms})
        total_ms = (time.perf_counter() - t0) * 1000
        results.append(_result(q, answer, threshold, par.key, _texts({par.key: par.context}),
                               total_ms))
    return results


@dataclass
class CorpusIndex:
    """The fresh index of corpus mode: paragraph index -> stored document id."""

    document_ids: list[str]
    texts: dict[str, str]
    documents: int
    passages: int
    ingest_s: float


# paragraphs added at a time to a kept data dir (--data-dir): an interrupted indexing resumes
REUSE_CHUNK = 256


def index_paragraphs(service: QAService, dataset: SquadDataset,
                     progress: bool = False, reuse: bool = False) -> CorpusIndex:
    """Add every paragraph as one document to an empty service, in one call; with `reuse`,
    to a kept data dir that may hold them already (from an earlier or interrupted run: stored
    paragraphs are not embedded again), a chunk at a time, and nothing else.

    Identical paragraph texts become one document (the store dedupes by content hash); both
    paragraphs then map to it, and since the text is the same their offsets hold."""
    if service.corpus.passage_count() and not reuse:
        raise ValueError("corpus mode needs a fresh, empty index")
    docs = [NewDocument(title=p.title or p.key, text=p.context) for p in dataset.paragraphs]
    t0 = time.perf_counter()
    step = REUSE_CHUNK if reuse else max(1, len(docs))
    ingested = [r for i in range(0, len(docs), step)
                for r in service.add_documents(docs[i : i + step], progress=progress)]
    ingest_s = time.perf_counter() - t0
    if reuse and len(service.corpus.document_ids()) != len({r.document.id for r in ingested}):
        raise ValueError("the data dir holds documents besides this file's paragraphs")
    ids = [r.document.id for r in ingested]
    texts = {r.document.id: r.document.text for r in ingested}
    return CorpusIndex(ids, texts, len(texts), service.corpus.passage_count(),
                       round(ingest_s, 2))


def run_corpus(service: QAService, dataset: SquadDataset, questions: Sequence[SquadQuestion],
               threshold: float, index: CorpusIndex, progress: bool = False
               ) -> list[QuestionResult]:
    """Ask each question against the whole corpus through QAService.ask."""
    _check_empty_threshold(service)
    top_k = max(max(RETRIEVAL_KS), service.settings.top_k)

    def text_of(document_id: str) -> str:
        if document_id not in index.texts:  # not expected: every document was added here
            record = service.corpus.document(document_id)
            index.texts[document_id] = record.text if record else ""
        return index.texts[document_id]

    results = []
    for q in tqdm(questions, desc="asking", unit="q", disable=not progress):
        doc_id = index.document_ids[q.paragraph]
        t0 = time.perf_counter()
        try:
            answer = service.ask(q.question, top_k=top_k)
        except QuestionError as exc:
            results.append(_abstention(q, str(exc)))
            continue
        total_ms = (time.perf_counter() - t0) * 1000
        r = _result(q, answer, threshold, doc_id, text_of, total_ms)
        if q.answers:
            r.retrieval_rank = first_gold_rank(answer.passages, doc_id, q.answers)
        results.append(r)
    return results


def run_retrieval(service: QAService, questions: Sequence[SquadQuestion], index: CorpusIndex,
                  progress: bool = False) -> list[QuestionResult]:
    """Only the first retrieval stage (dense + lexical + fusion) for each answerable question."""
    top_k = max(RETRIEVAL_KS)
    results = []
    for q in tqdm([q for q in questions if q.answers], desc="searching", unit="q",
                  disable=not progress):
        doc_id = index.document_ids[q.paragraph]
        try:
            question = service.validate_question(q.question)
        except QuestionError as exc:  # as corpus mode: counted, never searched
            results.append(_abstention(q, str(exc)))
            continue
        timer = StageTimer()
        t0 = time.perf_counter()
        passages = service.retriever.retrieve(question, top_k, timer=timer)
        total_ms = (time.perf_counter() - t0) * 1000
        rank = first_gold_rank(passages, doc_id, q.answers)
        results.append(QuestionResult(
            q.id, q.question, question_type(q.question), q.golds, "", "", 0.0, 1.0, None, None,
            None, retrieval_rank=rank, latency_ms=round(total_ms, 2), timings_ms=timer.ms))
    return results


# --------------------------------------------------------------------------- scoring


def retrieval_scores(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Recall@k and MRR@10 of the first passage holding a whole gold span (answerable only)."""
    hasans = [r for r in results if r.golds]
    flags = [[r.retrieval_rank == k for k in range(1, max(RETRIEVAL_KS) + 1)] for r in hasans]
    out: dict[str, Any] = {f"recall@{k}": 100 * hit_rate_at_k(flags, k) for k in RETRIEVAL_KS}
    out["mrr@10"] = mrr_at_k(flags, 10)
    out["questions"] = len(hasans)
    return out


def _scores(golds: dict[str, list[str]], results: Sequence[QuestionResult]
            ) -> tuple[list[float], list[float]]:
    em = [100 * max_over_golds(exact_match, r.prediction, scoring_golds(golds[r.id]))
          for r in results]
    f = [100 * max_over_golds(f1, r.prediction, scoring_golds(golds[r.id])) for r in results]
    return em, f


def best_confidence_threshold(results: Sequence[QuestionResult]) -> tuple[float | None, float]:
    """The abstention threshold (in confidence terms) that maximises F1 over the raw spans, and
    that F1 (percent). None means that never answering is best.

    The official `find_best_thresh` walks questions in order of increasing na_prob and answers
    when `na_prob <= t`; since `confidence = 1 - na_prob` for both readers this is the same walk
    in order of decreasing confidence, answering when `confidence >= threshold`. Questions with
    equal confidence are taken together (a threshold cannot split them); like the official
    script, the first (most cautious) threshold reaching the best score wins."""
    def f1_of(prediction: str, golds: list[str]) -> float:
        return max_over_golds(f1, prediction, scoring_golds(golds))

    score = best = sum(f1_of("", r.golds) for r in results)
    best_t: float | None = None
    spans = sorted((r for r in results if r.raw_prediction), key=lambda r: -r.confidence)
    i = 0
    while i < len(spans):
        conf = spans[i].confidence
        while i < len(spans) and spans[i].confidence == conf:
            score += f1_of(spans[i].raw_prediction, spans[i].golds) - f1_of("", spans[i].golds)
            i += 1
        if score > best + 1e-9:
            best, best_t = score, conf
    return best_t, 100.0 * best / max(1, len(results))


def calibration(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Raw-span scores, the official best no-answer thresholds, the abstention threshold that
    maximises F1 and the F1 it gives (recomputed with the official metric), and reliability."""
    golds = {r.id: r.golds for r in results}
    raw = {r.id: r.raw_prediction for r in results}
    na = {r.id: r.no_answer_probability for r in results}
    swept = squad_scores(golds, raw, na)
    recommended, _ = best_confidence_threshold(results)
    at = {r.id: r.raw_prediction if recommended is not None and r.confidence >= recommended
          else "" for r in results}
    with_span = [r for r in results if r.raw_prediction]
    confs = [min(1.0, max(0.0, r.confidence)) for r in with_span]
    correct = [max_over_golds(exact_match, r.raw_prediction, scoring_golds(r.golds))
               for r in with_span]
    return {
        "raw": {k: v for k, v in swept.items() if not k.startswith("best")},
        "best_exact": swept["best_exact"], "best_exact_thresh": swept["best_exact_thresh"],
        "best_f1": swept["best_f1"], "best_f1_thresh": swept["best_f1_thresh"],
        "one_minus_best_f1_thresh": round(1.0 - swept["best_f1_thresh"], 4),
        "recommended_abstain_threshold": recommended,
        "answered_at_recommended": sum(1 for v in at.values() if v),
        "f1_at_recommended": squad_scores(golds, at)["f1"],
        "ece": expected_calibration_error(confs, correct),
        "bins": reliability_bins(confs, correct),
    }


def latency_summary(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Total and per-stage latency percentiles of the questions that ran (no error)."""
    ran = [r for r in results if not r.error]
    return {"total": summarize_ms([r.latency_ms for r in ran]),
            "stages": stage_summary([r.timings_ms for r in ran])}


def score_results(results: Sequence[QuestionResult], mode: str) -> dict[str, Any]:
    """Every metric of one run (see the module docstring of eval.report for the layout)."""
    golds = {r.id: r.golds for r in results}
    preds = {r.id: r.prediction for r in results}
    na = {r.id: r.no_answer_probability for r in results}
    out: dict[str, Any] = {"answer": squad_scores(golds, preds, na),
                           "calibration": calibration(results)}
    out["retrieval"] = retrieval_scores(results) if mode == "corpus" else None
    answered = [r for r in results if r.answered]
    answered_has = [r for r in answered if r.golds]
    checked = [r for r in results if r.offsets_ok is not None]
    out["citations"] = {
        "answered": len(answered),
        "precision": 100 * sum(bool(r.citation_hit) for r in answered) / max(1, len(answered)),
        "precision_hasans": 100 * sum(bool(r.citation_hit) for r in answered_has)
        / max(1, len(answered_has)),
        "offsets_checked": len(checked),
        "offset_mismatches": sum(1 for r in checked if not r.offsets_ok),
        "mismatched_ids": [r.id for r in checked if not r.offsets_ok][:20],
    }
    out["latency_ms"] = latency_summary(results)
    em, f = _scores(golds, results)
    by_type: dict[str, dict[str, float]] = {}
    for t in QUESTION_TYPES:
        idx = [i for i, r in enumerate(results) if r.type == t]
        if idx:
            by_type[t] = {"count": len(idx), "exact": sum(em[i] for i in idx) / len(idx),
                          "f1": sum(f[i] for i in idx) / len(idx)}
    out["by_type"] = by_type
    out["errors"] = sum(1 for r in results if r.error)
    return out


# --------------------------------------------------------------------------- running


@dataclass
class SquadRun:
    mode: str
    reader: str
    results: list[QuestionResult]
    index: CorpusIndex | None = None


def run_mode(mode: str, dataset: SquadDataset, questions: Sequence[SquadQuestion],
             base: Settings, threshold: float, progress: bool = False,
             data_dir: Path | None = None) -> SquadRun:
    """One mode end to end on a fresh service in a temporary data dir (or in `data_dir`,
    kept and reused: the same stored passages searched by another backend after `qa
    migrate-index`, or an evaluation too long to index and ask in one go)."""
    if mode not in (*MODES, RETRIEVAL_MODE):
        raise ValueError(f"unknown mode {mode!r}")
    with tempfile.TemporaryDirectory(prefix=f"qa-eval-{mode}-") as tmp:
        service = QAService(eval_settings(base, Path(data_dir or tmp)))
        try:
            index = None
            if mode == "reading":
                results = run_reading(service, dataset, questions, threshold, progress)
            else:
                index = index_paragraphs(service, dataset, progress, reuse=data_dir is not None)
                if mode == RETRIEVAL_MODE:
                    results = run_retrieval(service, questions, index, progress)
                else:
                    results = run_corpus(service, dataset, questions, threshold, index,
                                         progress)
            return SquadRun(mode, service.reader_name, results, index)
        finally:
            service.close()


def write_outputs(out_dir: Path, run: SquadRun, metrics: dict[str, Any]) -> list[Path]:
    """predictions.json, na_probs.json, raw_predictions.json, questions.jsonl, metrics.json,
    report.md and the plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "predictions.json": {r.id: r.prediction for r in run.results},
        "na_probs.json": {r.id: r.no_answer_probability for r in run.results},
        "raw_predictions.json": {r.id: r.raw_prediction for r in run.results},
        "metrics.json": metrics,
    }
    written = []
    for name, data in files.items():
        path = out_dir / name
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    path = out_dir / "questions.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in run.results:
            fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    written.append(path)
    written += write_squad_report(out_dir, metrics, [r.latency_ms for r in run.results
                                                     if not r.error])
    return written


def evaluate(path: Path, mode: str, out_dir: Path, base: Settings, threshold: float,
             limit: int | None = None, seed: int = 0, progress: bool = False,
             command: str = "", split: str | None = None,
             anchors: Path | None = None,
             ask_split: str | None = None,
             data_dir: Path | None = None) -> tuple[SquadRun, dict[str, Any]]:
    """Load, run, score and write one mode; returns the run and its metrics."""
    dataset = load_squad_file(path, split)
    asked = questions_of_split(dataset, path, ask_split) if ask_split else dataset.questions
    questions = sample_questions(asked, limit, seed)
    run = run_mode(mode, dataset, questions, base, threshold, progress, data_dir)
    metrics: dict[str, Any] = {
        "file": str(path), "version": dataset.version, "mode": mode, "reader": run.reader,
        "fusion": base.fusion, "abstain_threshold": threshold, "questions": len(questions),
        "questions_in_file": len(dataset.questions), "sampled": len(questions) <
        len(dataset.questions), "seed": seed, "paragraphs": len(dataset.paragraphs),
        "command": command, "split": split, "ask_split": ask_split,
        "backend": base.backend,
    }
    if run.index is not None:
        metrics["index"] = {k: v for k, v in asdict(run.index).items()
                            if k not in ("document_ids", "texts")}
    if mode == RETRIEVAL_MODE:
        metrics["passage_design"] = base.model_dump(include={
            "sentences_per_passage", "passage_overlap", "passage_max_chars", "embed_title",
            "candidates", "rrf_k", "dense_weight", "lexical_weight", "rescorer", "sentence_weight",
            "rescore_candidates"})
        metrics["retrieval"] = retrieval_scores(run.results)
        metrics["latency_ms"] = latency_summary(run.results)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        with (out_dir / "ranks.jsonl").open("w", encoding="utf-8") as fh:
            for r in run.results:
                fh.write(json.dumps({"id": r.id, "retrieval_rank": r.retrieval_rank,
                                     "latency_ms": r.latency_ms}) + "\n")
        return run, metrics
    metrics.update(score_results(run.results, mode))
    if anchors is not None:
        metrics["anchors"] = anchor_scores(anchors, questions)
    write_outputs(out_dir, run, metrics)
    return run, metrics


def retrieval_line(metrics: dict[str, Any]) -> str:
    r, lat = metrics["retrieval"], metrics["latency_ms"]
    stages = " ".join(f"{k} {v['p50']:.1f}" for k, v in lat["stages"].items())
    return (f"retrieval fusion={metrics['fusion']} passages={metrics['index']['passages']} "
            f"n={r['questions']} | R@1/5/10 {r['recall@1']:.1f}/{r['recall@5']:.1f}/"
            f"{r['recall@10']:.1f} MRR@10 {r['mrr@10']:.3f} | p50 {lat['total']['p50']:.1f} ms "
            f"p95 {lat['total']['p95']:.1f} ms ({stages})")


def summary_line(metrics: dict[str, Any]) -> str:
    if metrics["mode"] == RETRIEVAL_MODE:
        return retrieval_line(metrics)
    a, c, ct = metrics["answer"], metrics["calibration"], metrics["citations"]
    parts = [f"{metrics['mode']:8s} reader={metrics['reader']} n={metrics['questions']}",
             f"EM {a['exact']:.1f} F1 {a['f1']:.1f}"]
    if "HasAns_f1" in a:
        parts.append(f"HasAns F1 {a['HasAns_f1']:.1f}")
    if "NoAns_exact" in a:
        parts.append(f"NoAns acc {a['NoAns_exact']:.1f}")
    rec = c["recommended_abstain_threshold"]
    parts.append(f"best F1 {c['f1_at_recommended']:.1f} at QA_ABSTAIN_THRESHOLD="
                 + ("never-answer" if rec is None else f"{rec:.4f}"))
    r = metrics.get("retrieval")
    if r:
        parts.append(f"R@1/5/10 {r['recall@1']:.1f}/{r['recall@5']:.1f}/{r['recall@10']:.1f} "
                     f"MRR@10 {r['mrr@10']:.3f}")
    parts.append(f"cite prec {ct['precision']:.1f} offsets bad {ct['offset_mismatches']}")
    lat = metrics["latency_ms"]["total"]
    parts.append(f"p50 {lat['p50']:.0f} ms p95 {lat['p95']:.0f} ms")
    return " | ".join(parts)


def cmd_squad(args: argparse.Namespace) -> int:
    base = get_settings()
    update: dict[str, Any] = {"reader": args.reader}
    if args.fusion:
        update["fusion"] = args.fusion
    base = base.model_copy(update=update)
    threshold = abstain_threshold(base) if args.abstain_threshold is None else args.abstain_threshold
    modes = list(MODES) if args.mode == "both" else [args.mode]
    out = args.out or Path("runs") / "eval" / f"{Path(args.file).stem}-{args.mode}"
    command = "qa eval " + " ".join(shlex.quote(a) for a in args.argv)
    status = 0
    for mode in modes:
        out_dir = out / mode if len(modes) > 1 else out
        _, metrics = evaluate(Path(args.file), mode, out_dir, base, threshold, args.limit,
                              args.seed, progress=not args.quiet, command=command,
                              split=args.split, anchors=args.anchors, ask_split=args.ask_split,
                              data_dir=args.data_dir)
        print(summary_line(metrics))
        if mode == RETRIEVAL_MODE:
            print(f"  wrote {out_dir}/(metrics.json, ranks.jsonl)")
            continue
        for name, scores in metrics.get("anchors", {}).items():
            print(f"  anchor {name}: EM {scores['exact']:.1f} F1 {scores['f1']:.1f}")
        print(f"  wrote {out_dir}/(predictions.json, na_probs.json, metrics.json, report.md)")
        bad = metrics["citations"]["offset_mismatches"]
        if bad:
            print(f"error: {bad} answers differ from the stored text at their offsets: "
                  f"{metrics['citations']['mismatched_ids']}", file=sys.stderr)
            status = 1
    return status


def add_parser(subparsers: Any) -> None:
    """Register `qa eval squad`."""
    p = subparsers.add_parser(
        "squad", help="SQuAD v1.1/v2.0 file: answers, abstention, retrieval, citations, latency",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, help="SQuAD-format JSON file")
    p.add_argument("--mode", choices=[*MODES, "both", RETRIEVAL_MODE], default="reading",
                   help="reading: own paragraph only; corpus: all paragraphs in one fresh index; "
                        "retrieval: corpus-mode search only, no reader")
    p.add_argument("--limit", type=int, default=None,
                   help="evaluate N sampled questions (corpus mode still indexes every paragraph)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default runs/eval/<file>-<mode>; 'both' writes "
                        "<out>/reading and <out>/corpus)")
    p.add_argument("--reader", choices=["neural", "rules"], default="neural",
                   help="neural falls back to rules when no trained model exists")
    p.add_argument("--fusion", choices=["rrf", "dense", "lexical"], default=None,
                   help="retrieval fusion in corpus mode (default: QA_FUSION / rrf)")
    p.add_argument("--abstain-threshold", type=float, default=None,
                   help="answer when confidence >= this (default: QA_ABSTAIN_THRESHOLD)")
    p.add_argument("--split", choices=["reader-dev", "reader-train"], default=None,
                   help="only the articles of this side of the reader split (eval/splits.py; "
                        "titles from dev-v1.1.json next to FILE)")
    p.add_argument("--ask-split", choices=["reader-dev", "reader-train"], default=None,
                   help="index every paragraph but ask only the questions of this side of the "
                        "reader split: corpus mode without the reader's training questions")
    p.add_argument("--anchors", type=Path, default=None,
                   help="folder of stored published predictions to score on the same questions")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="corpus and retrieval modes: index into this data dir and keep it (a "
                        "later run reuses it: paragraphs stored are not embedded again; an "
                        "interrupted indexing resumes), e.g. to evaluate the same stored "
                        "passages on QA_BACKEND=milvus after `qa migrate-index --to milvus`")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_squad)
