"""One turn, analysed once: what an earlier turn offers later questions as antecedents.

`analyse(exchange)` parses a turn's (resolved) question, its answer and the quote cited for it
and keeps what the discourse model needs: its mentions with their weight in that turn, the
names the evidence types, describing nouns ("news site Ynet"), the events it talks about
("the meeting between Khaled Mashaal and Qassem Soleimani", from "met" and the evidence's "a
meeting") and the noun phrases of its answer ("a Hezbollah-controlled area of Beirut").
A `TurnAnalysis` is plain data (`to_dict` / `from_dict`), so a conversation store keeps it with
the turn and a later question never parses an earlier turn again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from qa.followup.mentions import (
    FEMALE,
    GROUP_PRONOUNS,
    MALE,
    NAMED,
    PERSON_PRONOUNS,
    WH,
    WORD,
    Kind,
    answer_entity,
    answer_mention,
    descriptors,
    entities,
    entities_many,
    event_word,
    is_name,
    labels_of,
    mentions_of,
    norm_tokens,
    parse,
    parse_many,
    phrases_of,
    wh_noun,
)

ANALYSIS_VERSION = 1  # bump when what is stored changes; older analyses are redone
ANSWER_PARSE_CHARS = 600  # a longer answer is not parsed: its mentions are not worth the time


@dataclass(frozen=True)
class Weights:
    """Salience weights: how much a mention of each role counts in its own turn."""

    subject: float = 1.0
    object: float = 0.8
    other: float = 0.6
    answer: float = 1.2  # a short answer, as a whole
    in_long_answer: float = 0.4  # a name inside a longer answer
    event: float = 1.0  # an event the turn talks about ("the meeting")
    phrase: float = 0.5  # a noun phrase of the answer (for "that area")
    resolved: float = 0.5  # extra for a referent filled in by an earlier resolution
    decay: float = 0.3  # salience kept per turn of distance (CANARD tuning half, with 2 turns)
    pair_decay: float = 0.85  # "they" as two people mentioned together
    pair_boost: float = 1.2
    title: float = 1.5  # a title that is a name: the conversation's standing topic
    title_entity: float = 0.2  # a name inside a headline-like title
    title_kind: float = 3.0  # vote for the kind a title names (its parenthetical, its label)
    min_score: float = 0.1  # below this, no referent is good enough
    org_agent: float = 0.6  # an organization as "they" doing what people do ("discuss")
    # votes for a referent's kind (beside one per word of each mention of that kind)
    name_vote: float = 0.3  # a proper name the model gave no label
    descriptor_vote: float = 3.0  # "news site Ynet": the kind its describing noun names
    group_name_vote: float = 2.0  # a name ending in a group noun ("al-Quds Force") is an ORG
    agent_vote: float = 1.5  # an unlabelled or place-labelled name that met, said... a person
    plural_topic_vote: float = 100.0  # a topic the conversation calls "they" is a group
    # fit multipliers
    topic_as_group: float = 0.6  # the topic as "they" when nobody is "he" or "she"
    described: float = 1.5  # "that site" and a referent described as a site
    described_by_verb: float = 1.5  # "does he command?" and "commander X"


WEIGHTS = Weights()


@dataclass(frozen=True)
class Exchange:
    """One earlier turn, as the rewriter sees it. `analysis` is its TurnAnalysis when one was
    kept with the turn (`analyse` fills it in otherwise)."""

    question: str
    answer: str | None = None
    standalone_question: str | None = None
    evidence: tuple[str, ...] = ()  # quotes cited for the answer (they help type names)
    topic: str | None = None  # title of the document the answer came from
    analysis: TurnAnalysis | None = None


@dataclass(frozen=True)
class Found:
    """A mention as one turn offers it."""

    text: str
    kind: Kind
    weight: float
    agent: bool = False
    head: str = ""


@dataclass(frozen=True)
class TurnAnalysis:
    mentions: tuple[Found, ...] = ()
    labels: tuple[tuple[str, Kind], ...] = ()  # names typed by the cited evidence
    descriptors: tuple[tuple[str, str], ...] = ()  # (name, describing noun)
    events: tuple[Found, ...] = ()  # nominalized events of the turn
    phrases: tuple[Found, ...] = ()  # noun phrases of the answer
    female: int = 0
    male: int = 0
    answer_has_pronoun: bool = False
    asked_personal: int = 0  # he/she... in the question as asked
    asked_plural: int = 0  # they/them/their in the question as asked
    version: int = ANALYSIS_VERSION

    def to_dict(self) -> dict[str, Any]:
        def found(items: tuple[Found, ...]) -> list[list[Any]]:
            return [[f.text, str(f.kind), f.weight, f.agent, f.head] for f in items]

        return {"version": self.version, "mentions": found(self.mentions),
                "labels": [[n, str(k)] for n, k in self.labels],
                "descriptors": [list(d) for d in self.descriptors],
                "events": found(self.events), "phrases": found(self.phrases),
                "female": self.female, "male": self.male,
                "answer_has_pronoun": self.answer_has_pronoun,
                "asked_personal": self.asked_personal, "asked_plural": self.asked_plural}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnAnalysis | None:
        """The analysis stored as `data`; None when it is from another version."""
        if not data or data.get("version") != ANALYSIS_VERSION:
            return None

        def found(rows: list[list[Any]]) -> tuple[Found, ...]:
            return tuple(Found(t, Kind(k), float(w), bool(a), h) for t, k, w, a, h in rows)

        return cls(found(data["mentions"]), tuple((n, Kind(k)) for n, k in data["labels"]),
                   tuple((n, d) for n, d in data["descriptors"]), found(data["events"]),
                   found(data["phrases"]), int(data["female"]), int(data["male"]),
                   bool(data["answer_has_pronoun"]), int(data["asked_personal"]),
                   int(data["asked_plural"]))


@functools.lru_cache(maxsize=1024)
def analyse_unstored(turn: Exchange) -> TurnAnalysis:
    """For callers with nowhere to keep a turn's analysis (a chat client that sends the
    whole transcript with every request): the same turn is analysed once per process."""
    return analyse(turn)


def prime(turns: list[Exchange]) -> None:
    """Parse in one batch the texts `analyse` will need for these turns (each kind of parse
    one `nlp.pipe` call), so that analysing several turns in a row costs little more than
    one; turns already analysed are skipped."""
    todo = [t for t in turns if t.analysis is None]
    if not todo:
        return
    short = [t.standalone_question or t.question for t in todo]
    short += [t.answer for t in todo if t.answer and len(t.answer) < ANSWER_PARSE_CHARS]
    parse_many(short)
    entities_many([t.evidence[0] for t in todo if t.evidence])


def analysis_of(turn: Exchange) -> TurnAnalysis:
    """The turn's kept analysis, or a fresh one."""
    return turn.analysis if turn.analysis is not None else analyse(turn)


def analyse(turn: Exchange, weights: Weights = WEIGHTS) -> TurnAnalysis:
    question = turn.question
    asked = turn.standalone_question or turn.question
    answer = turn.answer
    evidence = turn.evidence[0] if turn.evidence else None
    original = {w.lower() for w in WORD.findall(question)}
    rewritten = asked != question
    role_weight = {"subj": weights.subject, "obj": weights.object}
    asked_doc = parse(asked)
    found: list[Found] = []
    described: list[tuple[str, str]] = []
    for m in mentions_of(asked_doc):
        weight = role_weight.get(m.role, weights.other)
        last = norm_tokens(m.text)[-1:] or ("",)
        if rewritten and last[0] not in original:
            weight += weights.resolved  # filled in by an earlier resolution: the centre
        found.append(Found(m.text, m.kind, weight, m.agent, m.head))
    words = [w.lower() for w in WORD.findall(question)]
    answer_words: list[str] = []
    phrases: list[Found] = []
    whole = None
    answer_doc = parse(answer) if answer and len(answer) < ANSWER_PARSE_CHARS else None
    if answer:
        whole = answer_mention(asked, answer, answer_doc) or answer_entity(asked, answer,
                                                                           answer_doc)
        if whole is not None:
            found.append(Found(whole.text, whole.kind, weights.answer, False, whole.head))
            noun = wh_noun(asked)
            if noun:
                described.append((whole.text, noun))
        elif answer_doc is not None:
            answer_words = [w.lower() for w in WORD.findall(answer)]
            for m in mentions_of(answer_doc):
                if m.kind in NAMED or m.kind == Kind.NAME:
                    found.append(Found(m.text, m.kind, weights.in_long_answer, m.agent))
            phrases = [Found(p.text, p.kind, weights.phrase, False, p.head)
                       for p in phrases_of(answer_doc)]
        if whole is not None and whole.head:
            phrases.append(Found(whole.text, whole.kind, weights.phrase, False, whole.head))
    typed = labels_of(entities(evidence)) if evidence else ()
    if evidence:
        for name, _label in typed:
            described += [(name, d) for d in descriptors(evidence, name)]
    events = _events(asked_doc, [t for t in (evidence, answer) if t],
                     whole.text if whole is not None else None, weights)
    all_words = words + answer_words
    return TurnAnalysis(
        tuple(found), typed, tuple(described), events, tuple(phrases),
        sum(w in FEMALE for w in all_words), sum(w in MALE for w in all_words),
        bool(set(answer_words) & (FEMALE | MALE)),
        sum(w in PERSON_PRONOUNS for w in words), sum(w in GROUP_PRONOUNS for w in words),
    )


def _events(doc: Any, texts: list[str], short_answer: str | None, weights: Weights
            ) -> tuple[Found, ...]:
    """The event a question asks about, named as the evidence or answer names it: "Where did
    Khaled Mashaal meet Qassem Soleimani?" with "... held a meeting in Turkey" -> "the meeting
    between Khaled Mashaal and Qassem Soleimani"."""
    verbs = [t for t in doc if t.pos_ == "VERB" and t.dep_ in ("ROOT", "xcomp", "ccomp")]
    if not verbs:
        return ()
    verb = verbs[0]
    # the evidence, then the answer: the first word that names the verb's event
    noun = next((w for text in texts if (w := event_word(text, verb.lemma_.lower()))), None)
    if noun is None:
        return ()
    participants: list[str] = []
    for child in sorted(verb.children, key=lambda c: c.dep_ != "nsubj"):  # subject first
        target = child
        if child.dep_ == "prep" and child.lower_ == "with":
            target = next((c for c in child.children if c.dep_ == "pobj"), child)
        if target.dep_ not in ("nsubj", "dobj", "pobj") or target.lower_ in WH:
            if target.dep_ == "dobj" and target.lower_ in WH and short_answer:
                participants.append(short_answer)  # "Who did he meet?" / "Soleimani"
            continue
        span = doc[target.left_edge.i : target.right_edge.i + 1]
        if is_name(span.text):
            participants.append(span.text)
    name = "the " + noun
    if len(participants) == 2:
        name += f" between {participants[0]} and {participants[1]}"
    return (Found(name, Kind.ACTION, weights.event, False, noun),)
