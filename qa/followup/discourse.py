"""The discourse model: candidate referents of a conversation, with their salience.

Salience adds up over turns and decays with distance (`Weights` in qa/followup/analysis.py);
it favours subjects, the answers of earlier turns and the referents of earlier resolutions
(the conversation's centre). A title that *is* a name (encyclopedia style) is a standing topic.
Events ("the meeting") and the noun phrases of answers ("a Hezbollah-controlled area of
Beirut") are referents too, next to named entities.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.followup.analysis import WEIGHTS, TurnAnalysis, Weights
from qa.followup.mentions import (
    COMPAT,
    DETERMINERS,
    FEMALE,
    GROUP_NOUNS,
    HUMAN_VERBS,
    MEDIA_NOUNS,
    MEDIA_WORDS,
    MEETING_VERBS,
    NAMED,
    OUTLET_NOUNS,
    REPORTING_VERBS,
    WH,
    Kind,
    Mention,
    Want,
    clean_title,
    definite,
    is_name,
    kind_of_noun,
    mentions,
    norm_tokens,
)

TRIGGER_WORDS = frozenset({
    "he", "she", "him", "his", "her", "hers", "it", "its", "they", "them", "their", "theirs",
    "there", "that", "this", "these", "those", "i", "you", "we", "me", "us", "one", "anything",
    "something", "everything", "nothing", "else", "other"})


@dataclass(eq=False)
class Referent:
    text: str
    kind_votes: dict[Kind, float] = field(default_factory=dict)
    score: float = 0.0
    keys: set[str] = field(default_factory=set)
    order: int = 0  # smaller = seen more recently
    descriptors: set[str] = field(default_factory=set)
    heads: set[str] = field(default_factory=set)  # head nouns of the phrases naming it

    def vote(self, kind: Kind, weight: float) -> None:
        self.kind_votes[kind] = self.kind_votes.get(kind, 0.0) + weight

    @property
    def kind(self) -> Kind:
        if not self.kind_votes:
            return Kind.NAME
        return max(self.kind_votes.items(), key=lambda kv: kv[1])[0]


PLACES = frozenset({Kind.GPE, Kind.LOC, Kind.FAC})


def is_outlet(ref: Referent) -> bool:
    """A news outlet: named with, or described by, an outlet noun ("Saudi daily Al-Hayat"),
    or a media word and a noun it makes an outlet's ("Israeli news site Ynet")."""
    words = {w for key in ref.keys for w in key.split()} | ref.descriptors
    return bool(words & OUTLET_NOUNS) or bool(words & MEDIA_WORDS and words & MEDIA_NOUNS)


@functools.lru_cache(maxsize=64)  # a conversation's title, parsed once per process
def _title_mentions(name: str) -> tuple[Mention, ...]:
    return mentions(name)


class Discourse:
    """Candidate referents with salience, built from the analysed history (oldest first)."""

    def __init__(self, analyses: Sequence[TurnAnalysis], topics: Sequence[str] = (),
                 weights: Weights = WEIGHTS):
        self.weights = weights
        self.referents: list[Referent] = []
        self.pairs: list[tuple[Referent, float]] = []
        self.female = self.male = 0
        asked_personal = asked_plural = 0
        self.topic: Referent | None = None
        for title in list(dict.fromkeys(t for t in topics if t))[:3]:
            self._add_title(title)
        per_turn: list[tuple[int, float, list[Referent], bool]] = []
        for distance, a in enumerate(reversed(list(analyses))):
            decay = weights.decay ** distance
            added = [self._add(m.text, m.kind, m.weight * decay, distance, m.agent)
                     for m in a.mentions]
            for e in a.events:
                ref = self._add(e.text, e.kind, e.weight * decay, distance)
                if ref is not None:
                    ref.heads.add(e.head)
            for p in a.phrases:
                text = p.text
                if text.split(" ", 1)[0].lower() not in DETERMINERS and not is_name(text):
                    text = "the " + text  # "supernatural abilities" -> "the supernatural ..."
                ref = self._add(text, p.kind, p.weight * decay, distance)
                if ref is not None:
                    ref.heads.add(p.head)
            for name, label in a.labels:
                ref = self._find(name, label == Kind.PERSON)
                if ref is not None:
                    ref.vote(label, 1.0 * len(norm_tokens(name)))
                    if label == Kind.PERSON and len(name) > len(ref.text) and is_name(ref.text):
                        ref.text = name  # "Mashaal" -> "Khaled Mashaal"
            for name, noun in a.descriptors:
                ref = self._find(name, True)
                if ref is not None:
                    ref.descriptors.add(noun)
                    kind = kind_of_noun(noun)
                    if kind:
                        ref.vote(kind, self.weights.descriptor_vote)
            self.female += a.female
            self.male += a.male
            asked_personal += a.asked_personal
            asked_plural += a.asked_plural
            per_turn.append((distance, decay, [r for r in added if r is not None],
                             a.answer_has_pronoun))
        if self.topic is not None and self.topic.kind != Kind.PERSON and \
                asked_plural > asked_personal:
            self.topic.vote(Kind.GROUP, self.weights.plural_topic_vote)  # it calls its topic "they"
        for distance, decay, refs, pronoun in per_turn:
            if distance > 1:
                continue
            persons = list(dict.fromkeys(r for r in refs if r.kind == Kind.PERSON))
            if pronoun and self.topic is not None and self.topic.kind == Kind.PERSON and \
                    self.topic not in persons:
                persons.insert(0, self.topic)  # "In May 1983, she married Nikos Karvelas"
            if len(persons) == 2:
                pair = Referent(f"{persons[0].text} and {persons[1].text}", order=distance)
                pair.vote(Kind.PAIR, 1.0)
                pair.keys = persons[0].keys | persons[1].keys
                self.pairs.append((pair, decay * weights.pair_decay))

    def find(self, text: str) -> Referent | None:
        """The referent a mention names, if any."""
        return self._find(text, True)

    def _find(self, text: str, by_name: bool) -> Referent | None:
        tokens = norm_tokens(text)
        if not tokens:
            return None
        key = " ".join(tokens)
        for ref in self.referents:
            if key in ref.keys:
                return ref
        if by_name:
            for ref in self.referents:
                if overlapping_name(tokens, ref):
                    return ref
        return None

    def _add(self, text: str, kind: Kind, weight: float, order: int, agent: bool = False
             ) -> Referent | None:
        tokens = norm_tokens(text)
        if not tokens or all(t in WH or t in TRIGGER_WORDS for t in tokens):
            return None
        key = " ".join(tokens)
        ref = None
        for r in self.referents:
            if key in r.keys or (kind in (Kind.PERSON, Kind.NAME, Kind.GPE, Kind.LOC, Kind.ORG)
                                 and (is_name(text) or kind == Kind.PERSON)
                                 and overlapping_name(tokens, r)
                                 and (kind != Kind.ORG or r.kind == Kind.PERSON)):
                ref = r
                break
        if ref is None:
            ref = Referent(definite(text), keys={key}, order=order)
            self.referents.append(ref)
        else:
            ref.keys.add(key)
            if len(tokens) > len(norm_tokens(ref.text)) and (
                    is_name(text) or not is_name(ref.text)) and kind != Kind.ACTION:
                ref.text = definite(text)
            ref.order = min(ref.order, order)
        ref.vote(kind, self.weights.name_vote if kind == Kind.NAME else float(len(tokens)))
        if is_name(text) and set(tokens) & (GROUP_NOUNS | {"daily"}):
            ref.vote(Kind.ORG, self.weights.group_name_vote)  # "al-Quds Force", "Saudi daily Al-Hayat"
        if agent and kind in (Kind.NAME, Kind.GPE, Kind.LOC):
            ref.vote(Kind.PERSON, self.weights.agent_vote)  # the small model's "Mashaal" (LOC) met someone
        ref.score += weight
        return ref

    def _add_title(self, title: str) -> None:
        name, hint = clean_title(re.split(r"\s+[—–]\s+", title)[0])  # "Name — Section"
        found = _title_mentions(name)
        whole = [m for m in found if len(m.text) >= 0.8 * len(name)
                 and (m.kind in NAMED or m.kind == Kind.NAME)]
        words = name.split()
        if not any(c.isupper() for c in name):
            return  # "mc160.test.41", a file name: no topic
        looks_like_name = is_name(name) and ":" not in name and (
            2 <= len(words) <= 4 or (len(words) == 1 and name[:1].isupper()))
        if whole or hint or looks_like_name:
            # The title is a name (encyclopedia style): the conversation is about it.
            kind = hint or (whole[0].kind if whole else Kind.NAME)
            if re.match(r"^the\s.*s$", name, re.I):
                kind = Kind.GROUP  # "The Waterboys", "The Three Stooges"
            self.topic = self._add(name, kind, self.weights.title, order=1000)
            if self.topic is not None:  # the title's own kind outweighs later mis-tagging
                self.topic.vote(kind, self.weights.title_kind)
        else:
            for m in found:
                if m.kind in NAMED:
                    self._add(m.text, m.kind, self.weights.title_entity, order=1000)

    def ranked(self, anaphor: str, want: Want, exclude: set[str], avoid: set[int],
               verbs: frozenset[str] = frozenset(), subject_of: str = ""
               ) -> list[tuple[float, Referent]]:
        """Referents that fit the anaphor, best first, with their scores. `subject_of`: the
        lemma of the verb the anaphor is the subject of, if any: one that takes people ("what
        did they discuss?") weighs organisations down, and neither a news outlet (unless it
        says or tells) nor, for meeting and talking, a place is its subject."""
        agent = subject_of in HUMAN_VERBS
        deed = agent and subject_of not in REPORTING_VERBS
        meeting = subject_of in MEETING_VERBS
        compat = COMPAT[want]
        options: list[tuple[float, int, Referent]] = []
        pool = list(self.referents)
        avoided = {k for r in pool if id(r) in avoid for k in r.keys}
        if want == Want.GROUP:
            pool += [p for p, _ in self.pairs]
        for ref in pool:
            if id(ref) in avoid or ref.keys & exclude or any(
                    k.split()[-1] in exclude for k in ref.keys):
                continue
            if deed and is_outlet(ref):
                continue  # "What did they talk about?" is not asked of the paper that reported
            if meeting and want == Want.GROUP and ref.kind in PLACES:
                continue  # nor of the country where they met
            if ref.kind == Kind.PAIR and ref.keys & avoided:
                continue  # "How did they target her email?": "they" does not include "her"
            fit = compat.get(ref.kind, 0.0)
            if want == Want.GROUP and ref.kind == Kind.NORP and not ref.text.endswith("s"):
                fit = 0.0  # "Russian" is no "they"; "Palestinians" is
            if want == Want.GROUP and agent and ref.kind == Kind.ORG:
                fit *= self.weights.org_agent  # people discuss; a newspaper reports
            if want == Want.GROUP and ref is self.topic and self.female + self.male == 0:
                fit = max(fit, self.weights.topic_as_group)  # nobody is "he" or "she": a band...
            if anaphor in ref.descriptors:
                fit = max(fit, 1.0) * self.weights.described  # "that site" and "news site Ynet"
            if fit <= 0:
                continue
            if any(d.startswith(v) for d in ref.descriptors for v in verbs):
                fit *= self.weights.described_by_verb  # "does he command?" and "commander X"
            score = ref.score
            if ref.kind == Kind.PAIR:
                score = next(w for p, w in self.pairs if p is ref) * self.weights.pair_boost
            if want == Want.PERSON and ref is self.topic:
                score *= self._gender_fit(anaphor)
            options.append((fit * score, -ref.order, ref))
        options.sort(key=lambda o: (o[0], o[1]), reverse=True)
        return [(s, r) for s, _, r in options if s >= self.weights.min_score]

    def best(self, anaphor: str, want: Want, exclude: set[str], avoid: set[int],
             verbs: frozenset[str] = frozenset()) -> Referent | None:
        ranked = self.ranked(anaphor, want, exclude, avoid, verbs)
        return ranked[0][1] if ranked else None

    def by_head(self, head: str) -> Referent | None:
        """The most salient referent named by a phrase with this head noun ("area")."""
        options = [r for r in self.referents if head in r.heads]
        return max(options, key=lambda r: (r.score, -r.order)) if options else None

    def _gender_fit(self, pronoun: str) -> float:
        """Does the topic person's gender, judged from the conversation's pronouns, agree?"""
        f, m = self.female, self.male
        if f + m < 2:
            return 1.0
        said = f if pronoun in FEMALE else m
        if said == 0 and f + m >= 3:
            return 0.05
        return 1.0 if said / (f + m) >= 0.25 else 0.2


def overlapping_name(tokens: tuple[str, ...], ref: Referent) -> bool:
    """"Mashaal" and "Khaled Mashaal" (or "George" and "George Foreman") name one person."""
    if ref.kind not in (Kind.PERSON, Kind.NAME, Kind.GPE, Kind.LOC) or not (
            is_name(ref.text) or ref.kind == Kind.PERSON):
        return False
    # Compare with the fullest form only: "Salonga" joins "Lea Salonga", but "Feliciano
    # Genuino Salonga" (another Salonga) does not.
    other = max((tuple(k.split()) for k in ref.keys), key=len)
    short, long_ = (tokens, other) if len(tokens) <= len(other) else (other, tokens)
    return len(short) < len(long_) and (long_[-len(short):] == short
                                        or long_[: len(short)] == short)
