"""Stories that change: what the read sources say, compared.

The reader gives each passage it read its own best answer (`ReaderResult.candidates`). Those
it is confident in (at least the abstain threshold, the same bar as any answer) are grouped by
value, loosely ("Istanbul" and "Dolmabahce Palace in Istanbul" agree; "3,200" and "4,100" do
not; dates by the day they name in their reports), leaving out documents about another subject
(those lacking a name of the question that the answer's document holds). When the groups
conflict, the newest report's value is the answer (a corrected or updated report is newer than
what it corrects), and the others are returned as the disagreement, each with its citations,
dates and whether its source was superseded by a newer version of the same story or corrected
by a later correction notice.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.dates import MONTH_NUMBERS, MONTH_WORDS, WEEKDAYS, DateMention
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


_MONTH = r"(?P<month>[A-Z][a-z]+)\.?"
# A month counts beside a day or a year ("Oct. 16", "16 October", "March 2024"), or as a whole
# answer ("early March"): "June Carter", "Theresa May" and "Mar-a-Lago" name no month.
_MONTH_DATE = re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?!\.\d)"
                         r"|\b(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<month2>[A-Z][a-z]+)\b"
                         r"|\b(?P<month3>[A-Z][a-z]+)\.?,?\s+(?=(?:1[89]|20)\d\d\b)")
_MONTH_ALONE = re.compile(r"^\W*(?:(?:in|early|late|mid|since|by|until|last|next)[\s-]+)?"
                          r"(?P<month>[A-Z][a-z]+)\.?\W*$")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b(?!\s+(?-i:[A-Z]))", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d\d))?\s*([ap])\.?m\b\.?", re.IGNORECASE)


def date_parts(value: str) -> dict[str, frozenset[str]]:
    """The parts of a date or time an answer gives, when it is a date or time and nothing
    else: weekday, month, day of the month, year, clock time ("late Tuesday" -> weekday;
    "Oct. 16, 2023" -> month, day, year). Empty for anything that says more ("$5 million in
    2023", "the Sunday Times", "June Carter")."""
    parts: dict[str, set[str]] = {}
    taken: list[tuple[int, int]] = []

    def add(part: str, found: str, span: tuple[int, int]) -> None:
        parts.setdefault(part, set()).add(found)
        taken.append(span)

    for m in _WEEKDAY.finditer(value):
        add("weekday", m[1].lower(), m.span())
    for m in _MONTH_DATE.finditer(value):
        month = (m["month"] or m["month2"] or m["month3"]).lower()
        if month in MONTH_NUMBERS:
            add("month", str(MONTH_NUMBERS[month]), m.span())
            if m["day"] or m["day2"]:
                parts.setdefault("day", set()).add(str(int(m["day"] or m["day2"])))
    alone = _MONTH_ALONE.match(value)
    if alone and alone["month"].lower() in MONTH_NUMBERS:
        add("month", str(MONTH_NUMBERS[alone["month"].lower()]), alone.span("month"))
    for m in _YEAR.finditer(value):
        add("year", m[0], m.span())
    for m in _CLOCK.finditer(value):
        add("clock", f"{int(m[1])}:{m[2] or '00'}{m[3].lower()}", m.span())
    rest = list(value)
    for a, b in taken:
        rest[a:b] = " " * (b - a)
    left = "".join(rest)
    if re.search(r"\d", left) or any(w[:1].isupper() for w in left.split()):
        return {}  # more than a date
    return {k: frozenset(v) for k, v in parts.items()}


def same_value(a: str, b: str) -> bool:
    """Whether two answers say the same thing. Two dates or times that give a part in common
    agree when every such part is the same ("late Tuesday" / "Tuesday night"; "Oct. 16" /
    "Oct. 16, 2023"). Otherwise the same numbers when either has one, else the words of one
    within the other's ("in Istanbul" / "Dolmabahce Palace in Istanbul")."""
    pa, pb = date_parts(a), date_parts(b)
    if pa.keys() & pb.keys():
        return all(pa[part] == pb[part] for part in pa.keys() & pb.keys())
    na, nb = numbers(a), numbers(b)
    if na or nb:
        return na == nb
    wa, wb = words(a), words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


_NAME_WORD = re.compile(r"[A-Z][\w.'’\-]*|[\w'’.\-]+|\S")
_BEFORE_A_DATE = frozenset("in on since by until last next this early late mid".split())


def question_names(question: str) -> list[str]:
    """The proper names a question asks about, lower case: its runs of capitalised words, a
    leading question word, weekdays and a month beside a number or after "in", "on"... aside
    ("Who is Sorrel County's emergency services director?" -> ["sorrel county"]; "When did May
    resign?" -> ["may"])."""
    tokens = _NAME_WORD.findall(question)
    names: list[str] = []
    run: list[str] = []
    for i, token in enumerate(tokens):
        word = re.sub(r"['’]s$", "", token)
        bare = word.rstrip(".").lower()
        named_after = i + 1 < len(tokens) and tokens[i + 1][:1].isupper()  # "Sunday Times"
        dated = (bare in WEEKDAYS and not named_after) or (bare in MONTH_NUMBERS and (
            (i + 1 < len(tokens) and tokens[i + 1][:1].isdigit())
            or (i > 0 and tokens[i - 1].lower() in _BEFORE_A_DATE)))
        proper = word[:1].isupper() and not dated and word != "I" \
            and not (i == 0 and bare in _STOP)
        if proper:
            run.append(word.lower())
        if run and (not proper or word != token):
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
    dates: tuple[DateMention, ...] = ()  # the dates its document names, resolved at ingest

    @property
    def span(self) -> AnswerSpan:
        return self.candidate.span

    @property
    def published(self) -> str:
        return self.passage.published or ""

    @functools.cached_property
    def parts(self) -> dict[str, frozenset[str]]:
        """The date or time the answer gives, part by part (`date_parts`)."""
        return date_parts(self.text)

    @functools.cached_property
    def day(self) -> str | None:
        """The date the answer names, read against its report's date (`named_date`)."""
        return named_date(self)


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
    """The day, month or year a date-like answer names, as its document's dates were resolved
    at ingest against the report's publication date ("Thursday morning" in a Tuesday report
    that says the road "will stay closed until Thursday morning": that Thursday). None when
    the answer is no date, holds more than one, or is part of a longer one ("2023" of "Oct.
    16, 2023")."""
    if not source.parts:
        return None
    start, end = source.span.answer_start, source.span.answer_end
    inside = [m for m in source.dates if m.end > start and m.start < end]
    if len(inside) != 1 or not (start <= inside[0].start and inside[0].end <= end):
        return None
    return inside[0].value


def same_claim(a: Source, b: Source) -> bool:
    """Whether two sources' answers say the same thing: dates as the days they name in their
    reports when both name one ("late Tuesday" in Wednesday's report and "Tuesday night" in
    Tuesday's; a month or year agrees with any day inside it), with the same clock time when
    both give one; else `same_value`."""
    day_a, day_b = a.day, b.day
    if day_a and day_b:
        clock_a, clock_b = a.parts.get("clock"), b.parts.get("clock")
        return (day_a.startswith(day_b) or day_b.startswith(day_a)) and (
            clock_a is None or clock_b is None or clock_a == clock_b)
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
               best: AnswerSpan, dates: dict[str, tuple[DateMention, ...]] | None = None
               ) -> dict[str, Source]:
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
        out[doc] = Source(text, cand, passage, doc in superseded, doc in corrections,
                          (dates or {}).get(doc, ()))
    return out


def compare(question: str, candidates: tuple[Candidate, ...],
            passages: dict[int, RetrievedPassage], threshold: float,
            superseded: frozenset[str], corrections: frozenset[str], best: AnswerSpan,
            same_slot: Callable[[str, Source, Source], bool],
            naming: dict[str, frozenset[str]] | None = None,
            dates: dict[str, tuple[DateMention, ...]] | None = None) -> Comparison | None:
    """Group the confident candidates of different documents by value and pick the answer:
    the reader's `best`, unless a value that answers the same thing (`same_slot`) comes from a
    newer report (both dated) or `best`'s sources were all superseded. Values about something
    else are left out, and so are documents about another subject: `naming` says which of
    the question's names each document holds, and one that lacks a name `best`'s document
    holds is not compared (another county's director). `dates`: the dates each document names
    (its stored `DateMention`s), by which date answers are compared. None when no other
    document speaks to the same thing or `best`'s document is not among the confident."""
    by_document = sources_of(candidates, passages, threshold, superseded, corrections, best,
                             dates)
    first = next((s for s in by_document.values() if s.span == best), None)
    if first is None:
        return None
    if naming is not None:
        held = naming.get(first.span.document_id, frozenset())
        by_document = {d: s for d, s in by_document.items()
                       if s is first or held <= naming.get(d, frozenset())}
    if len(by_document) < 2:
        return None
    positions: list[Position] = [Position([first])]
    for source in by_document.values():
        if source is first:
            continue
        # a value joins a group only if it agrees with every source there: "2023" agrees
        # with "Oct. 16, 2023" and with "Nov. 2, 2023", which do not agree with each other
        home = next((p for p in positions if all(same_claim(s, source) for s in p.sources)),
                    None)
        if home is not None:
            home.sources.append(source)
        elif same_slot(question, first, source):
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
