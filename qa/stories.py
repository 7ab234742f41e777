"""Stories that change: what the read sources say, compared.

The reader gives each passage it read its own best answer (`ReaderResult.candidates`). Those
it is confident in (at least the abstain threshold, the same bar as any answer) are grouped by
value, loosely ("Istanbul" and "Dolmabahce Palace in Istanbul" agree; "3,200" and "4,100" do
not). When the groups conflict, the newest report's value is the answer (a corrected or
updated report is newer than what it corrects), and the others are returned as the
disagreement, each with its citations, dates and whether its source was superseded by a newer
version of the same story or corrected by a later correction notice.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.dates import MONTH_NUMBERS, MONTH_WORDS, WEEKDAYS, mention_at, resolve_dates
from qa.numeric import sigmoid
from qa.text import fold
from qa.types import AnswerSpan, Candidate, RetrievedPassage

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"\w+")
_MINOR = frozenset("a an the of in at on to for and by from with about some".split())
# A correction or update notice at the head of an article (news wording, several outlets).
_CORRECTION = re.compile(
    r"^\W*(correction|clarification|update|updated)\b"
    r"|\ban earlier version of this (article|story|report)\b"
    r"|\bthis (article|story|report) (has been|was) (updated|corrected)\b",
    re.IGNORECASE | re.MULTILINE)
CORRECTION_HEAD_CHARS = 400


def numbers(value: str) -> frozenset[str]:
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(value))


def words(value: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(fold(value)) if w not in _MINOR)


_MONTH_DAY = re.compile(r"\b(?P<month>[A-Z][a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b"
                        r"|\b(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month2>[A-Z][a-z]+)\b")
_MONTH_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d\d))?\s*([ap])\.?m\b", re.IGNORECASE)


def calendar(value: str) -> dict[str, frozenset[str]]:
    """The parts of a date or time an answer gives: weekday, month, day of the month, year and
    clock time ("late Tuesday" -> weekday; "Oct. 16, 2023" -> month, day, year). Month names
    count when capitalised, so the verb "may" is not May."""
    parts: dict[str, set[str]] = {}
    lowered = fold(value)
    for day in WEEKDAYS:
        if re.search(rf"\b{day}\b", lowered):
            parts.setdefault("weekday", set()).add(day)
    for name in _MONTH_NAME.findall(value):
        if name.lower() in MONTH_NUMBERS:
            parts.setdefault("month", set()).add(str(MONTH_NUMBERS[name.lower()]))
    for m in _MONTH_DAY.finditer(value):
        month, day = (m["month"], m["day"]) if m["month"] else (m["month2"], m["day2"])
        if month.lower() in MONTH_NUMBERS:
            parts.setdefault("day", set()).add(str(int(day)))
    for year in _YEAR.findall(value):
        parts.setdefault("year", set()).add(year)
    for hour, minute, half in _CLOCK.findall(value):
        parts.setdefault("clock", set()).add(f"{int(hour)}:{minute or '00'}{half.lower()}")
    return {k: frozenset(v) for k, v in parts.items()}


def same_value(a: str, b: str) -> bool:
    """Whether two answers say the same thing. Dates and times that give a part in common
    agree when every such part is the same ("late Tuesday" / "Tuesday night"; "Oct. 16" /
    "Oct. 16, 2023"). Otherwise the same numbers when either has one, else the words of one
    within the other's ("in Istanbul" / "Dolmabahce Palace in Istanbul")."""
    ca, cb = calendar(a), calendar(b)
    if ca.keys() & cb.keys():
        return all(ca[part] == cb[part] for part in ca.keys() & cb.keys())
    na, nb = numbers(a), numbers(b)
    if na or nb:
        return na == nb
    wa, wb = words(a), words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


_NAME_WORD = re.compile(r"[A-Z][\w.\-]*(?:'s)?|[\w'.\-]+|\S")


def question_names(question: str) -> list[str]:
    """The proper names a question asks about, lower case: its runs of capitalised words after
    the first word, months and weekdays aside ("Who is Sorrel County's emergency services
    director?" -> ["sorrel county"])."""
    names: list[str] = []
    run: list[str] = []
    for i, token in enumerate(_NAME_WORD.findall(question)):
        word = token.removesuffix("'s")
        proper = i > 0 and word[:1].isupper() and word.rstrip(".").lower() not in _DATE_WORDS \
            and word != "I"
        if proper:
            run.append(word.lower())
        if run and (not proper or token.endswith("'s")):
            names.append(" ".join(run))
            run = []
    if run:
        names.append(" ".join(run))
    return list(dict.fromkeys(names))


def is_correction(text: str) -> bool:
    """Whether an article opens with a correction or update notice."""
    return bool(_CORRECTION.search(text[:CORRECTION_HEAD_CHARS]))


@dataclass(frozen=True)
class Source:
    """What one document says: its best candidate answer, as read."""

    text: str
    candidate: Candidate
    passage: RetrievedPassage
    superseded: bool
    correction: bool

    @property
    def span(self) -> AnswerSpan:
        return self.candidate.span

    @property
    def published(self) -> str:
        return self.passage.published or ""


@dataclass
class Position:
    """One value and the sources that give it, most confident first."""

    sources: list[Source] = field(default_factory=list)
    corrected: bool = False  # a newer correction notice among the answer's sources disagrees

    @property
    def text(self) -> str:
        return self.sources[0].text

    @property
    def newest(self) -> str:
        return max(s.published for s in self.sources)

    @property
    def current(self) -> bool:
        return any(not s.superseded for s in self.sources)


def named_date(source: Source) -> str | None:
    """The day, month or year a date-like answer names, read in its passage against the
    report's publication date ("Thursday morning" in a Tuesday report that says the road
    "will stay closed until Thursday morning": that Thursday); None when it names none."""
    if not calendar(source.text):
        return None
    p, span = source.passage, source.span
    mention = mention_at(resolve_dates(p.text, p.published),
                         span.answer_start - p.start, span.answer_end - p.start)
    return mention.value if mention is not None else None


def same_claim(a: Source, b: Source) -> bool:
    """Whether two sources' answers say the same thing: dates as the days they name in their
    reports when both name one ("late Tuesday" in Wednesday's report and "Tuesday night" in
    Tuesday's), a month or year agreeing with any day inside it; else `same_value`."""
    day_a, day_b = named_date(a), named_date(b)
    if day_a and day_b:
        return day_a.startswith(day_b) or day_b.startswith(day_a)
    return same_value(a.text, b.text)


def newer(a: str, b: str) -> bool:
    """Whether ISO date `a` is later than `b`; an unknown date ("") is never newer or older."""
    return bool(a and b) and a > b


@dataclass(frozen=True)
class Comparison:
    chosen: Source
    agreeing: list[Source]  # other documents giving the chosen value
    others: list[Position]  # conflicting values, newest first


# ---------------------------------------------------------------------------- same slot
_STOP = frozenset("""a an the of in at on to for and by from with about did do does was were is
are be been has have had who what when where which why how many much that this it its their
they he she his her as or""".split())
_DATE_WORDS = MONTH_WORDS | frozenset(WEEKDAYS)
_NUMBER_WORDS = frozenset("""one two three four five six seven eight nine ten eleven twelve
dozen dozens hundred hundreds thousand thousands million billion""".split())
SLOT_FEATURES = ("other_confidence", "best_confidence", "same_shape", "other_covers_question",
                 "best_covers_question", "evidence_overlap", "frame_overlap")
FRAME_WORDS = 3  # words read on each side of an answer for its frame


def shape(value: str) -> str:
    """A coarse answer type: date, number, name (capitalised words) or phrase."""
    lowered = words(value)
    if lowered & _DATE_WORDS or re.search(r"\b(1[89]|20)\d\d\b", value):
        return "date"
    if _NUMBER.search(value) or lowered & _NUMBER_WORDS:
        return "number"
    if any(w[:1].isupper() for w in value.split()):
        return "name"
    return "phrase"


def content(text: str) -> frozenset[str]:
    return frozenset(w.rstrip("s") for w in words(text) if w not in _STOP)


def evidence_words(source: Source) -> frozenset[str]:
    """The content words of a source's evidence sentence(s), its answer left out."""
    p, span = source.passage, source.span
    before = p.text[span.evidence_start - p.start : span.answer_start - p.start]
    after = p.text[span.answer_end - p.start : span.evidence_end - p.start]
    return content(before + " " + after)


def frame_words(source: Source) -> frozenset[str]:
    """The content words an answer is framed by, numbers left out: its own and those of up
    to FRAME_WORDS words on each side ("said about 900 firefighters were assigned" ->
    said, firefighter, assigned)."""
    p, span = source.passage, source.span
    before = _WORD.findall(p.text[: span.answer_start - p.start])[-FRAME_WORDS:]
    after = _WORD.findall(p.text[span.answer_end - p.start :])[:FRAME_WORDS]
    return frozenset(w for w in content(" ".join([*before, source.text, *after]))
                     if not _NUMBER.fullmatch(w))


def slot_features(question: str, best: Source, other: Source) -> list[float]:
    """What tells whether `other` answers the same thing as `best` (SLOT_FEATURES order)."""
    asked = content(question)
    best_words, other_words = evidence_words(best), evidence_words(other)

    def covers(found: frozenset[str]) -> float:
        return len(asked & found) / len(asked) if asked else 0.0

    def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
        return len(a & b) / len(a | b) if a | b else 0.0

    return [other.candidate.confidence, best.candidate.confidence,
            float(shape(best.text) == shape(other.text)), covers(other_words),
            covers(best_words), jaccard(best_words, other_words),
            jaccard(frame_words(best), frame_words(other))]


@dataclass(frozen=True)
class SameSlotModel:
    """Logistic model: the probability that two sources' different answers are answers to the
    same question (a real disagreement), not to two different things the passages also say.
    Fitted on the tuning stories by scripts/fit_same_slot.py."""

    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # chosen on the tuning stories with the weights

    @classmethod
    def load(cls, path: Path) -> SameSlotModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != SLOT_FEATURES:
            raise ValueError(f"{path}: fitted on other features {data['features']}")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   float(data.get("threshold", 0.5)))

    def probability(self, features: list[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return sigmoid(z)

    def same_slot(self, question: str, first: Source, other: Source) -> bool:
        return self.probability(slot_features(question, first, other)) >= self.threshold


DEFAULT_SLOT_MODEL = Path(__file__).parent / "models" / "stories" / "same_slot.json"


@functools.cache
def shared_slot_model(path: Path = DEFAULT_SLOT_MODEL) -> SameSlotModel:
    return SameSlotModel.load(path)


# ---------------------------------------------------------------------------- comparing
def sources_of(candidates: tuple[Candidate, ...], passages: dict[int, RetrievedPassage],
               threshold: float, superseded: frozenset[str], corrections: frozenset[str],
               best: AnswerSpan) -> dict[str, Source]:
    """Each document's candidate at or above `threshold`: `best` for its document, else the
    most confident outside photo captions, else the most confident."""
    def caption(cand: Candidate) -> bool:
        passage = passages.get(cand.span.passage_id)
        return passage is not None and passage.block == "caption"

    out: dict[str, Source] = {}
    for cand in sorted(candidates, key=lambda c: (c.span != best, caption(c), -c.confidence)):
        passage = passages.get(cand.span.passage_id)
        doc = cand.span.document_id
        if passage is None or cand.confidence < threshold or doc in out:
            continue
        text = passage.text[cand.span.answer_start - passage.start:
                            cand.span.answer_end - passage.start]
        out[doc] = Source(text, cand, passage, doc in superseded, doc in corrections)
    return out


def compare(question: str, candidates: tuple[Candidate, ...],
            passages: dict[int, RetrievedPassage], threshold: float,
            superseded: frozenset[str], corrections: frozenset[str], best: AnswerSpan,
            same_slot: Callable[[str, Source, Source], bool],
            naming: dict[str, frozenset[str]] | None = None) -> Comparison | None:
    """Group the confident candidates of different documents by value and pick the answer:
    the reader's `best`, unless a value that answers the same thing (`same_slot`) comes from a
    newer report (both dated) or `best`'s sources were all superseded. Values about something
    else are left out. None when no other document speaks to the same thing or `best`'s
    document is not among the confident."""
    by_document = sources_of(candidates, passages, threshold, superseded, corrections, best)
    first = next((s for s in by_document.values() if s.span == best), None)
    if first is None or len(by_document) < 2:
        return None
    positions: list[Position] = [Position([first])]
    for source in by_document.values():
        if source is first:
            continue
        home = next((p for p in positions if same_claim(p.sources[0], source)), None)
        if home is not None:
            home.sources.append(source)
        elif (naming is None or naming.get(source.candidate.span.document_id) ==
              naming.get(first.candidate.span.document_id)) and same_slot(question, first, source):
            positions.append(Position([source]))
    if len(positions) == 1 and len(positions[0].sources) == 1:
        return None
    winner = positions[0]
    for other in positions[1:]:
        if other.current and not winner.current:
            winner = other  # a superseded version never outranks its story's current one
        elif other.current == winner.current and newer(other.newest, winner.newest):
            winner = other
    others = sorted((p for p in positions if p is not winner), key=lambda p: p.newest,
                    reverse=True)
    chosen = winner.sources[0]
    for p in others:
        p.corrected = any(s.correction and s.published >= p.newest for s in winner.sources)
    return Comparison(chosen, winner.sources[1:], others)


STATUS_WORDS = {"superseded": "an earlier version, since updated", "corrected": "since corrected",
                "earlier": "an earlier report", "unsettled": "not settled"}


def status(superseded: bool, corrected: bool, published: str | None, as_of: str | None) -> str:
    """Where a competing value stands against the answer (a key of STATUS_WORDS)."""
    if superseded:
        return "superseded"
    if corrected:
        return "corrected"
    return "earlier" if newer(as_of or "", published or "") else "unsettled"
