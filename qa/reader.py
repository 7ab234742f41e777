"""The neural span reader: a MiniLM body with a span head trained in-house on SQuAD-style data
(see scripts/train_reader.py and qa/models/reader/MODEL_CARD.md), run with ONNX Runtime (int8)."""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.attribution import asks_for_source, source_names_of
from qa.evidence import evidence_span
from qa.numeric import sigmoid
from qa.span_decoding import (
    SpanCandidate,
    best_spans,
    complete_name,
    paragraph_breaks,
    paragraph_numbers,
    tokens_within,
)
from qa.structure import not_answers
from qa.types import AnswerSpan, Candidate, ReaderResult, RetrievedPassage

log = logging.getLogger(__name__)

DEFAULT_READER_DIR = Path(__file__).parent / "models" / "reader"


# The most characters of one passage the reader reads (passages are at most
# QA_PASSAGE_MAX_CHARS, 1,000 by default; reading mode gives whole SQuAD paragraphs, up to
# 4,063 characters, and the sample article, 4,341).
MAX_READ_CHARS = 8000

# How far around a span's end a source question's name is looked for (qa.attribution).
NAME_CONTEXT_CHARS = 300

# Where a model folder records no calibration (and for the rule-based extractor).
UNCALIBRATED_ABSTAIN_THRESHOLD = 0.5


def calibration(model_dir: Path | None = None) -> dict[str, Any]:
    """calibration.json beside a reader model (chosen on the dev split; see its model card), or
    {} where there is none."""
    path = Path(model_dir or DEFAULT_READER_DIR) / "calibration.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def carry_raw_confidence(raw: float, slope: float, bias: float) -> float:
    """A raw confidence sigmoid(gap) in calibrated units sigmoid(slope x gap + bias): the same
    order, so a raw threshold carried over answers the same questions (0 and 1 stay put)."""
    if raw <= 0.0 or raw >= 1.0:
        return raw
    return sigmoid(slope * math.log(raw / (1 - raw)) + bias)


class Reader(Protocol):
    """Finds the answer to a question in retrieved passages (or concludes there is none), and
    says below which confidence its answers are not worth giving."""

    abstain_threshold: float

    def read(self, question: str, passages: list[RetrievedPassage]) -> ReaderResult: ...


@dataclass(frozen=True)
class WindowSpan:
    """One window's best span: `passage` indexes the passages read; `null` is the window's
    no-answer score."""

    passage: int
    span: SpanCandidate
    null: float


class NeuralReader:
    """Scores every window of question + passage; the best span over all passages wins, by span
    score + `retrieval_weight` x the log-odds of its passage's retrieval probability (when the
    learned re-scorer gave one): a span in a passage retrieval trusts beats a slightly higher
    span score in one it doubts.

    confidence = sigmoid(slope x (span score - null score) + bias) of the winning window, where
    the null score is the [CLS] start+end logit (SQuAD v2 style); slope and bias are fitted on
    the dev split (calibration.json; 1 and 0 without one), so that a confidence of 0.7 is right
    about 70% of the time. no-answer probability = 1 - confidence."""

    def __init__(self, model_dir: Path | None = None, max_length: int = 384, stride: int = 128,
                 max_answer_tokens: int = 30, threads: int | None = None,
                 retrieval_weight: float = 0.0, caption_weight: float = 0.0):
        self.model_dir = Path(model_dir or DEFAULT_READER_DIR)
        self.retrieval_weight = retrieval_weight
        self.caption_weight = caption_weight
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        fitted = calibration(self.model_dir)
        self.slope = float(fitted.get("slope", 1.0))
        self.bias = float(fitted.get("bias", 0.0))
        # read with slope and bias, so a live service never mixes two calibrations
        self.abstain_threshold = float(fitted.get("abstain_threshold",
                                                  UNCALIBRATED_ABSTAIN_THRESHOLD))

    @staticmethod
    def available(model_dir: Path | None = None) -> bool:
        return (Path(model_dir or DEFAULT_READER_DIR) / "model.onnx").exists()

    def load(self) -> None:
        if self._session is not None:
            return
        path = self.model_dir / "model.onnx"
        if not path.exists():
            raise RuntimeError(
                f"reader model not found at {path}: train and export it "
                "(scripts/train_reader.py, scripts/export_reader.py) or set QA_READER=rules"
            )
        from transformers import AutoTokenizer

        from embeddings.onnx_session import CoreSharingSession

        self._session = CoreSharingSession(path, self.threads)
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self._inputs = {i.name for i in self._session.get_inputs()}
        log.info("loaded reader %s", path)

    def logits(self, question: str, contexts: list[str]) -> tuple[Any, np.ndarray, np.ndarray]:
        """Tokenized windows (with offsets and sample mapping) and their start/end logits."""
        self.load()
        # A passage stored before sentences were bounded can be huge: only its head is read,
        # so a question's cost never grows with what was ingested.
        contexts = [c[:MAX_READ_CHARS] for c in contexts]
        enc = self._tokenizer(
            [question.strip()] * len(contexts), contexts, truncation="only_second",
            max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
            return_offsets_mapping=True, padding=True, return_tensors="np",
        )
        feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask",
                                                     "token_type_ids") if k in self._inputs}
        # One window per run, without its padding: the model's int8 activations are quantized
        # with one scale per run (DynamicQuantizeLinear), so in a batch a window's logits moved
        # with whatever else was read beside it (by up to ~1.5), and padding cost ~20% of the
        # work. Scored alone, a window gets the same answer whatever else was retrieved.
        lengths = [int(n) for n in feed["attention_mask"].sum(axis=1)]
        starts = np.full(feed["input_ids"].shape, -1e4, dtype=np.float32)
        ends = np.full(feed["input_ids"].shape, -1e4, dtype=np.float32)
        outputs = self._session.run_each(
            ["start_logits", "end_logits"],
            [{k: v[w : w + 1, :n] for k, v in feed.items()} for w, n in enumerate(lengths)])
        for w, (n, (start, end)) in enumerate(zip(lengths, outputs, strict=True)):
            starts[w, :n], ends[w, :n] = start[0], end[0]
        return enc, starts, ends

    def window_spans(self, question: str, passages: list[RetrievedPassage]) -> list[WindowSpan]:
        """The best span of every window of question + passage that has one: within one
        paragraph, never in a wire dateline ("ATHENS, Aug. 10 —": where a report was filed)
        or in a correction's account of what an earlier version wrongly said
        (qa.structure.not_answers), and, for a question that asks for a source, carried to the
        end of a source's name that it stops just before or inside of (qa.attribution)."""
        texts = [p.text for p in passages]
        enc, start_logits, end_logits = self.logits(question, texts)
        breaks = [paragraph_breaks(t) for t in texts]
        excluded = [not_answers(t) for t in texts]
        out = []
        for w in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(w)
            passage = int(enc["overflow_to_sample_mapping"][w])
            # Plain ints: numpy offsets would leak into answers and JSON.
            offsets = [(int(o[0]), int(o[1])) if s == 1 else None
                       for o, s in zip(enc["offset_mapping"][w], seq, strict=False)]
            cands = best_spans(start_logits[w], end_logits[w], offsets, self.max_answer_tokens,
                               segments=paragraph_numbers(breaks[passage], offsets),
                               blocked=tokens_within(excluded[passage], offsets))
            if cands:
                out.append(WindowSpan(passage, cands[0],
                                      float(start_logits[w][0] + end_logits[w][0])))
        return complete_source_names(question, passages, out)

    def best_windows(self, question: str, passages: list[RetrievedPassage]
                     ) -> tuple[dict[int, tuple[float, WindowSpan]], dict[int, float]]:
        """Per passage read (by index), its winning window (by span score + retrieval prior)
        with that combined score; and per passage id how strongly it answers (best span
        score - null score + prior)."""
        best: dict[int, tuple[float, WindowSpan]] = {}
        margins: dict[int, float] = {}
        for found in self.window_spans(question, passages) if passages else []:
            prior = passage_prior(passages[found.passage], self.retrieval_weight,
                                  self.caption_weight)
            pid = passages[found.passage].passage_id
            margins[pid] = max(margins.get(pid, -np.inf), found.span.score - found.null + prior)
            held = best.get(found.passage)
            if held is None or found.span.score + prior > held[0]:
                best[found.passage] = (found.span.score + prior, found)
        return best, margins

    def best_window(self, question: str, passages: list[RetrievedPassage]
                    ) -> tuple[WindowSpan | None, dict[int, float]]:
        """The winning window over all passages (span score + prior; ties: the earlier) and
        the per passage margins of `best_windows`."""
        per_passage, margins = self.best_windows(question, passages)
        if not per_passage:
            return None, margins
        return max(per_passage.values(), key=lambda x: x[0])[1], margins

    def confidence(self, found: WindowSpan) -> float:
        """Calibrated probability that the window's span answers the question."""
        return sigmoid(self.slope * (found.span.score - found.null) + self.bias)

    def answer_span(self, passages: list[RetrievedPassage], found: WindowSpan) -> AnswerSpan:
        passage = passages[found.passage]
        a_start = passage.start + found.span.start_char
        a_end = passage.start + found.span.end_char
        ev_start, ev_end = evidence_span(passage, a_start, a_end)
        return AnswerSpan(passage.document_id, passage.passage_id, a_start, a_end, ev_start,
                          ev_end, found.span.score)

    def read(self, question: str, passages: list[RetrievedPassage]) -> ReaderResult:
        per_passage, margins = self.best_windows(question, passages)
        if not per_passage:
            return ReaderResult(None, 0.0, 1.0)
        _, found = max(per_passage.values(), key=lambda x: x[0])
        confidence = self.confidence(found)
        candidates = tuple(Candidate(self.answer_span(passages, w), self.confidence(w))
                           for _, w in sorted(per_passage.values(), key=lambda x: -x[0]))
        return ReaderResult(self.answer_span(passages, found), confidence=confidence,
                            no_answer_probability=1.0 - confidence, passage_scores=margins,
                            candidates=candidates)


def complete_source_names(question: str, passages: list[RetrievedPassage],
                          found: list[WindowSpan]) -> list[WindowSpan]:
    """For a question that asks for a source, each span carried to the end of a source's name
    it stops just before or inside of (qa.attribution); only the sentence each span ends in is
    parsed, all in one batch. Scores are unchanged."""
    if not found or not asks_for_source(question):
        return found
    pieces = [(f.passage, *sentence_around(passages[f.passage], f.span)) for f in found]
    keys = list(dict.fromkeys(pieces))
    parsed = dict(zip(keys, source_names_of([passages[i].text[a:b] for i, a, b in keys]),
                      strict=True))
    return [replace(f, span=complete_name(f.span, [(x + a, y + a, z + a)
                                                   for x, y, z in parsed[(i, a, b)]]))
            for f, (i, a, b) in zip(found, pieces, strict=True)]


def sentence_around(passage: RetrievedPassage, span: SpanCandidate) -> tuple[int, int]:
    """(start, end) in `passage`'s text of the sentence(s) holding `span` (qa.evidence; the
    whole text when its sentences are not known), cut to what the reader read and to
    NAME_CONTEXT_CHARS on either side of the span's end: a name is short, and a sentence can
    be as long as a document."""
    start, end = (x - passage.start for x in evidence_span(
        passage, passage.start + span.start_char, passage.start + span.end_char))
    return (max(start, 0, span.end_char - NAME_CONTEXT_CHARS),
            min(end, len(passage.text), MAX_READ_CHARS, span.end_char + NAME_CONTEXT_CHARS))


def retrieval_prior(passage: RetrievedPassage, weight: float) -> float:
    """weight x log-odds of the passage's retrieval probability (0 without one)."""
    if passage.probability is None or not weight:
        return 0.0
    p = min(max(passage.probability, 1e-6), 1 - 1e-6)
    return weight * math.log(p / (1 - p))


def passage_prior(passage: RetrievedPassage, retrieval_weight: float,
                  caption_weight: float) -> float:
    """What a span's score gets for where it stands: the retrieval prior, plus
    `caption_weight` in a photo caption."""
    caption = caption_weight if passage.block == "caption" else 0.0
    return retrieval_prior(passage, retrieval_weight) + caption


@functools.cache
def shared_neural_reader(model_dir: Path | None = None, threads: int | None = None,
                         retrieval_weight: float = 0.0, caption_weight: float = 0.0
                         ) -> NeuralReader:
    return NeuralReader(model_dir, threads=threads, retrieval_weight=retrieval_weight,
                        caption_weight=caption_weight)
