"""Follow-up resolution: a context-dependent question becomes a standalone one.

`resolve(question, history)` rewrites a follow-up ("Where?", "What did they talk about?",
"What country is that site from?") into a question that can be searched and read on its own,
using the earlier turns: their (already resolved) questions, their answers, the quotes they
cited and the titles of the documents those came from. A question that needs no context (it
has no pronoun, demonstrative or ellipsis to fill), and a greeting, is returned unchanged:
rewriting everything is a known way to make answers worse.

No generative model is used. The rewriter is rule-based, on spaCy's tagger, parser and entities:

* pronouns and demonstratives are replaced by the most salient earlier mention that agrees
  with them: he/she/him/his/her -> a person, it/its -> a thing or organization, they/them/their
  -> a group (an organization, a plural or collective noun phrase, or two people mentioned
  together), "there" -> a place, "that group"/"this site"/"that country" -> a mention of the
  noun's kind. Salience adds up over turns, decays with distance, and favours subjects, the
  answers of earlier turns and the referents of earlier pronouns (the conversation's centre);
  a title that *is* a name (encyclopedia style) is a standing topic. Only the first pronoun of
  a referent is replaced ("when did she begin her career?" -> "when did Mae West begin her
  career?"), and an object pronoun never takes the referent of its own clause's subject
  ("What day did it report it?").
* ellipsis is completed from the previous question: its wh-phrase is replaced by the new one
  and its gap filled with the previous answer ("Who did Mashaal meet?" / "Qassem Soleimani" /
  "Where?" -> "Where did Mashaal meet Qassem Soleimani?"); "what about X?" swaps X for the
  mention of the same kind in the previous question.

Costs: a regular expression decides whether a question can need context at all; only then is
it parsed (one short string), and history strings are analysed once per process (cached).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from embeddings.nlp import load_spacy

log = logging.getLogger(__name__)

HISTORY_TURNS = 6  # earlier turns looked at
DECAY = 0.5  # salience kept per turn of distance
MAX_FILLER_TOKENS = 10  # an earlier answer longer than this is not put into a question


@dataclass(frozen=True)
class Exchange:
    """One earlier turn, as the rewriter sees it."""

    question: str
    answer: str | None = None
    standalone_question: str | None = None
    evidence: tuple[str, ...] = ()  # quotes cited for the answer (they help type names)
    topic: str | None = None  # title of the document the answer came from


# --------------------------------------------------------------------------- cheap checks

_TRIGGER = re.compile(
    r"\b(he|she|him|his|her|hers|it|its|they|them|their|theirs|there|that|this|these|those)\b",
    re.I,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|thanks|thank you|thx|cheers|ok|okay|cool|great|bye|"
    r"goodbye|see you|good (morning|afternoon|evening|night|day))"
    r"( there| again| all| everyone| very much| so much| a lot| for that| for this)?[\s!.,?]*$",
    re.I,
)
_WORD = re.compile(r"[\w'’-]+")
_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$"
                    r"|^\s*and\s+(?P<y>.+?)\s*\?\s*$", re.I)


def is_greeting(question: str) -> bool:
    return bool(_GREETING.match(question))


def may_need_context(question: str) -> bool:
    """False when the question certainly stands alone (no parse needed)."""
    if is_greeting(question):
        return False
    return bool(_TRIGGER.search(question)) or len(_WORD.findall(question)) <= 3 \
        or bool(_ABOUT.match(question))


# --------------------------------------------------------------------------- vocabularies

_PERSON_PRONOUNS = {"he", "him", "his", "she", "her", "hers"}
_THING_PRONOUNS = {"it", "its"}
_GROUP_PRONOUNS = {"they", "them", "their", "theirs"}
_FEMALE = {"she", "her", "hers"}
_MALE = {"he", "him", "his"}
_WH = {"who", "whom", "whose", "what", "which", "where", "when", "why", "how"}
_DETERMINERS = {"a", "an", "the", "this", "that", "these", "those"}
_PERSON_NOUNS = {
    "man", "woman", "person", "leader", "commander", "chief", "head", "president", "minister",
    "official", "guy", "boy", "girl", "king", "queen", "prince", "general", "spokesman",
    "spokeswoman", "player", "singer", "actor", "actress", "author", "writer", "founder",
    "candidate", "officer", "politician", "director", "ceo", "coach", "mother", "father",
    "mommy", "daddy", "mom", "dad", "sister", "brother", "wife", "husband", "son", "daughter",
    "friend", "farmer", "teacher", "doctor", "soldier", "journalist", "reporter", "lawyer",
}
_GROUP_NOUNS = {
    "group", "organization", "organisation", "party", "movement", "force", "unit", "militia",
    "agency", "company", "firm", "paper", "newspaper", "outlet", "site", "website", "daily",
    "network", "band", "team", "club", "government", "regime", "army", "delegation",
    "administration", "council", "committee", "faction", "wing", "ministry", "family", "tribe",
    "people", "police", "court", "station", "channel", "magazine", "publication", "service",
}
_COLLECTIVE_NOUNS = {
    "group", "delegation", "government", "regime", "team", "band", "family", "party", "army",
    "police", "people", "committee", "council", "administration", "militia", "tribe", "staff",
    "crew", "couple", "pair", "public", "media",
}
_PLACE_NOUNS = {
    "country", "city", "place", "town", "region", "capital", "state", "nation", "area",
    "village", "province", "territory", "strip", "island", "location",
}
_PARENTHETICAL_KIND = {
    "band": "GROUP", "group": "GROUP", "team": "GROUP", "club": "GROUP", "company": "ORG",
    "film": "THING", "album": "THING", "song": "THING", "novel": "THING", "book": "THING",
    "musical": "THING", "play": "THING", "tv series": "THING", "video game": "THING",
    "magazine": "ORG", "newspaper": "ORG", "people": "GROUP",
}
_NAMED = {"PERSON", "NORP", "ORG", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"}

# How well a mention's kind fits an anaphor's kind (0 = never). The small model mislabels
# short names (a surname as LOC, a newspaper as PERSON), hence the small cross-kind weights.
_COMPAT: dict[str, dict[str, float]] = {
    "person": {"PERSON": 1.0, "NAME": 0.6, "PERSON_NOUN": 0.6, "ORG": 0.15, "GPE": 0.15,
               "LOC": 0.15, "FAC": 0.05},
    "thing": {"ORG": 0.9, "PRODUCT": 1.0, "EVENT": 1.0, "WORK_OF_ART": 1.0, "LAW": 1.0,
              "FAC": 0.8, "GPE": 0.5, "LOC": 0.5, "NOUN": 0.7, "NAME": 0.5, "THING": 1.0,
              "GROUP_NOUN": 0.3},
    "group": {"PAIR": 1.0, "PLURAL": 1.0, "GROUP_NOUN": 1.0, "GROUP": 1.0, "ORG": 0.8,
              "NORP": 0.7, "NAME": 0.3, "GPE": 0.15},
    "place": {"GPE": 1.0, "LOC": 1.0, "FAC": 1.0, "PLACE_NOUN": 0.7, "NAME": 0.3, "ORG": 0.1},
    "org": {"ORG": 1.0, "GROUP": 1.0, "GROUP_NOUN": 0.8, "NAME": 0.6, "NORP": 0.4,
            "PERSON": 0.1, "PRODUCT": 0.3, "WORK_OF_ART": 0.3, "FAC": 0.3},
}


# --------------------------------------------------------------------------- mentions


@dataclass(frozen=True)
class _Mention:
    text: str  # surface form
    kind: str  # entity label, NAME (proper noun without a label) or a noun-phrase kind
    role: str  # subj, obj or other
    start: int  # character offset in its string
    agent: bool = False  # subject of a verb that takes a human subject ("Mashaal met")


@dataclass(eq=False)
class _Candidate:
    text: str
    kind_votes: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    keys: set[str] = field(default_factory=set)
    order: int = 0  # smaller = seen more recently
    descriptors: set[str] = field(default_factory=set)

    def vote(self, kind: str, weight: float) -> None:
        self.kind_votes[kind] = self.kind_votes.get(kind, 0.0) + weight

    @property
    def kind(self) -> str:
        return max(self.kind_votes.items(), key=lambda kv: kv[1])[0] if self.kind_votes else "NAME"


def _nlp() -> Any:
    return load_spacy()


@functools.lru_cache(maxsize=256)  # parsed Docs are big; what is derived from them is cached
def _parse(text: str) -> Any:  # longer (_mentions, _analyse)
    return _nlp()(text)


def _fold(text: str) -> str:
    """Lower case without accents ("Dalí" -> "dali")."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _norm_tokens(text: str) -> tuple[str, ...]:
    words = _WORD.findall(_fold(text))
    while words and words[0] in _DETERMINERS:
        words = words[1:]
    if words and words[-1].endswith("'s"):
        words[-1] = words[-1][:-2]
    return tuple(w for w in words if w)


def _role(token: Any) -> str:
    if token.dep_ in ("nsubj", "nsubjpass"):
        return "subj"
    if token.dep_ in ("dobj", "pobj", "attr", "dative", "appos", "conj"):
        return "obj"
    return "other"


def _noun_kind(root: Any) -> str:
    lemma = root.lemma_.lower()
    if lemma in _PERSON_NOUNS:
        return "PERSON_NOUN"
    if lemma in _COLLECTIVE_NOUNS:
        return "GROUP_NOUN"
    if lemma in _PLACE_NOUNS:
        return "PLACE_NOUN"
    if root.tag_ in ("NNS", "NNPS"):
        return "PLURAL"
    if lemma in _GROUP_NOUNS:
        return "GROUP_NOUN"
    return "NOUN"


_QUANTIFIERS = {"any", "some", "no", "every", "each", "other", "another", "more", "most", "all",
                "many", "much", "few", "several", "anything", "something", "what", "which"}
_GENERIC_NOUNS = {"aspect", "thing", "fact", "information", "article", "part", "time", "way",
                  "lot", "kind", "sort", "type", "anything", "something", "detail", "example",
                  "other", "one", "stuff", "point", "section", "year", "day"}

_HUMAN_VERBS = {
    "meet", "say", "tell", "talk", "speak", "discuss", "ask", "visit", "announce", "marry",
    "sing", "write", "claim", "believe", "want", "decide", "think", "feel", "command", "lead",
    "become", "die", "bear", "study", "play", "act", "win", "sue", "resign", "agree", "refuse",
}


def _is_agent(token: Any) -> bool:
    return token.dep_ == "nsubj" and token.head.lemma_.lower() in _HUMAN_VERBS


@functools.lru_cache(maxsize=4096)
def _mentions(text: str) -> tuple[_Mention, ...]:
    """Named entities, unlabelled proper names and noun phrases of `text`."""
    doc = _parse(text)
    out: list[_Mention] = []
    covered: set[int] = set()
    for ent in doc.ents:
        if ent.label_ not in _NAMED:
            continue
        span = ent
        if span[-1].tag_ == "POS":
            span = span[:-1]
        if not len(span):
            continue
        out.append(_Mention(span.text, ent.label_, _role(span.root), span.start_char,
                            _is_agent(span.root)))
        covered.update(range(span.start, span.end))
    names: list[list[Any]] = []
    for tok in doc:
        if tok.pos_ == "PROPN" and tok.i not in covered and tok.text[:1].isupper():
            if names and names[-1][-1].i == tok.i - 1:
                names[-1].append(tok)
            else:
                names.append([tok])
    for toks in names:
        span = doc[toks[0].i : toks[-1].i + 1]
        if span.text.lower() not in _WH and len(span.text) > 1:
            out.append(_Mention(span.text, "NAME", _role(span.root), span.start_char,
                                _is_agent(span.root)))
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.pos_ not in ("NOUN", "PROPN") or any(t.lower_ in _WH for t in chunk):
            continue
        if any(t.pos_ == "PRON" for t in chunk):
            continue
        if all(t.i in covered for t in chunk if t.pos_ != "DET"):
            continue  # the chunk is just an entity
        if chunk[0].lower_ in _QUANTIFIERS or root.lemma_.lower() in _GENERIC_NOUNS:
            continue  # "any other interesting aspects", "some information": not referents
        if root.pos_ == "PROPN" and root.i in covered:
            continue
        kind = _noun_kind(root)
        # A noun phrase around a name ("a Hamas delegation") is a mention of its own.
        out.append(_Mention(chunk.text, kind, _role(root), chunk.start_char))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _labels(text: str) -> tuple[tuple[str, str], ...]:
    """(name, label) of the named entities of a longer text (entities only: no parse)."""
    doc = _nlp()(text, disable=["parser", "lemmatizer", "attribute_ruler", "tagger"])
    return tuple((e.text, e.label_) for e in doc.ents if e.label_ in _NAMED)


_DESCRIBING = _PERSON_NOUNS | _GROUP_NOUNS | _PLACE_NOUNS | {"site", "daily", "weekly"}


def _wh_noun(question: str) -> str | None:
    """The noun of a question's wh-phrase: "Which other outlet carried..." -> "outlet"."""
    m = re.match(r"^\s*(?:which|what)\s+(?:other\s+|kind of\s+|sort of\s+)?([a-z]+)\b",
                 question, re.I)
    if not m:
        return None
    word = m.group(1).lower()
    word = word[:-1] if word.endswith("s") and word[:-1] in _DESCRIBING else word
    return word if word in _DESCRIBING else None


def _kind_of_noun(word: str) -> str | None:
    if word in _PERSON_NOUNS:
        return "PERSON"
    if word in _PLACE_NOUNS:
        return "GPE"
    if word in _GROUP_NOUNS or word in ("site", "daily", "weekly"):
        return "ORG"
    return None


def _answer_mention(question: str, answer: str) -> _Mention | None:
    """The whole answer as one mention when it is a short noun phrase."""
    tokens = _WORD.findall(answer)
    if not tokens or len(tokens) > MAX_FILLER_TOKENS:
        return None
    doc = _parse(answer)
    if any(t.pos_ in ("VERB", "AUX") for t in doc) or doc[0].pos_ in ("ADP", "SCONJ"):
        return None
    if not any(t.pos_ in ("NOUN", "PROPN") for t in doc):
        return None
    wh = question.strip().split()[0].lower() if question.strip() else ""
    if wh == "when" or wh == "how" and re.match(r"^\s*how (many|much|long|old)\b", question, re.I):
        return None
    ents = [e for e in doc.ents if e.label_ in _NAMED]
    if ents and len(ents[0].text) >= 0.6 * len(answer.strip()):
        kind = ents[0].label_
    elif all(t.pos_ in ("PROPN", "DET", "PUNCT", "ADJ") for t in doc):
        kind = "NAME"
    else:
        kind = _noun_kind(doc[:].root)
    noun = _wh_noun(question)
    if any(t.dep_ == "cc" for t in doc) and kind not in ("ORG", "NORP"):
        kind = "PLURAL"  # "Zappa and the Mothers of Invention"
    elif noun in _COLLECTIVE_NOUNS:
        kind = "GROUP"  # the answer to "What group disbanded?"
    elif noun and _kind_of_noun(noun) and kind in ("NAME", "NOUN", "PERSON", "GPE", "LOC"):
        kind = _kind_of_noun(noun) or kind  # "Which other outlet...?" -> an ORG
    elif {t.lower_ for t in doc} & (_GROUP_NOUNS | {"daily"}) and kind in ("NAME", "PERSON"):
        kind = "ORG"  # "Saudi daily Al-Hayat"
    elif wh in ("who", "whom") and kind in ("NAME", "GPE", "LOC"):
        kind = "PERSON"
    elif wh == "where" and kind in ("NAME", "NOUN"):
        kind = "GPE"
    return _Mention(answer.strip().strip("\"'“”‘’()[]"), kind, "answer", 0)


def _leading_noun_phrase(question: str, answer: str) -> str | None:
    """The noun phrase a longer answer starts with, when it would itself be a short answer:
    "an office in a Hezbollah-controlled area of Beirut - a request..." -> "an office"."""
    chunk = next(iter(_parse(answer).noun_chunks), None)
    if chunk is None or chunk.start != 0:
        return None
    return chunk.text if _answer_mention(question, chunk.text) is not None else None


def _descriptors(text: str, name: str) -> list[str]:
    """Nouns that describe `name` in `text`: "news site Ynet", "Soleimani, a ... leader"."""
    out = []
    for m in re.finditer(r"\b([a-z]+)\s+" + re.escape(name), text):
        if m.group(1) in _DESCRIBING:
            out.append(m.group(1))
    for m in re.finditer(re.escape(name) + r",\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,3}?([a-z]+)\b",
                         text):
        if m.group(1) in _DESCRIBING:
            out.append(m.group(1))
    return out


@dataclass(frozen=True)
class _TurnAnalysis:
    """What one earlier turn contributes, independent of its distance (cached)."""

    mentions: tuple[tuple[str, str, float, bool], ...]  # text, kind, weight, agent
    labels: tuple[tuple[str, str], ...]  # names typed by the cited evidence
    descriptors: tuple[tuple[str, str], ...]  # (name, describing noun)
    female: int
    male: int
    answer_has_pronoun: bool
    asked_personal: int  # he/she... in the question as asked
    asked_plural: int  # they/them/their in the question as asked


@functools.lru_cache(maxsize=2048)
def _analyse(question: str, asked: str, answer: str | None, evidence: str | None
             ) -> _TurnAnalysis:
    original = {w.lower() for w in _WORD.findall(question)}
    rewritten = asked != question
    mentions: list[tuple[str, str, float, bool]] = []
    descriptors: list[tuple[str, str]] = []
    for m in _mentions(asked):
        weight = {"subj": 1.0, "obj": 0.8}.get(m.role, 0.6)
        last = _norm_tokens(m.text)[-1:] or ("",)
        if rewritten and last[0] not in original:
            weight += 0.5  # filled in by an earlier resolution: the conversation's centre
        mentions.append((m.text, m.kind, weight, m.agent))
    words = [w.lower() for w in _WORD.findall(question)]
    answer_words: list[str] = []
    if answer:
        am = _answer_mention(asked, answer)
        if am is not None:
            mentions.append((am.text, am.kind, 1.2, False))
            noun = _wh_noun(asked)
            if noun:
                descriptors.append((am.text, noun))
        elif len(answer) < 600:
            answer_words = [w.lower() for w in _WORD.findall(answer)]
            for m in _mentions(answer):
                if m.kind in _NAMED or m.kind == "NAME":
                    mentions.append((m.text, m.kind, 0.4, m.agent))
    labels = _labels(evidence) if evidence else ()
    if evidence:
        for name, _label in labels:
            descriptors += [(name, d) for d in _descriptors(evidence, name)]
    all_words = words + answer_words
    return _TurnAnalysis(
        tuple(mentions), labels, tuple(descriptors),
        sum(w in _FEMALE for w in all_words), sum(w in _MALE for w in all_words),
        bool(set(answer_words) & (_FEMALE | _MALE)),
        sum(w in _PERSON_PRONOUNS for w in words), sum(w in _GROUP_PRONOUNS for w in words),
    )


def analyse_turn(turn: Exchange) -> None:
    """Analyse a turn now (fills the caches, so that the next question is resolved fast)."""
    _analyse(turn.question, turn.standalone_question or turn.question, turn.answer,
             turn.evidence[0] if turn.evidence else None)


def _clean_title(title: str) -> tuple[str, str | None]:
    """A title without its parenthetical, and the kind that parenthetical names."""
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", title)
    if not m:
        return title.strip(), None
    hint = m.group(2).lower()
    for word, kind in _PARENTHETICAL_KIND.items():
        if word in hint:
            return m.group(1).strip(), kind
    return m.group(1).strip(), "PERSON"  # "(activist)", "(baseball)", "(footballer)"...


# --------------------------------------------------------------------------- salience


class _Discourse:
    """Candidate referents with salience, built from the history."""

    def __init__(self, history: Sequence[Exchange], topic: str | None):
        self.candidates: list[_Candidate] = []
        self.pairs: list[tuple[_Candidate, float]] = []
        self.female = self.male = 0
        asked_personal = asked_plural = 0
        self.topic: _Candidate | None = None
        recent = list(history)[-HISTORY_TURNS:]
        titles = [topic] if topic else []
        titles += [t.topic for t in reversed(recent) if t.topic]
        for title in list(dict.fromkeys(titles))[:3]:
            self._add_title(title)
        per_turn: list[tuple[int, float, list[_Candidate], bool]] = []
        for distance, turn in enumerate(reversed(recent)):
            decay = DECAY ** distance
            a = _analyse(turn.question, turn.standalone_question or turn.question, turn.answer,
                         turn.evidence[0] if turn.evidence else None)
            added = [self._add(text, kind, weight * decay, distance, agent)
                     for text, kind, weight, agent in a.mentions]
            for name, label in a.labels:
                cand = self._find(name, label == "PERSON")
                if cand is not None:
                    cand.vote(label, 1.0 * len(_norm_tokens(name)))
                    if label == "PERSON" and len(name) > len(cand.text) and _is_name(cand.text):
                        cand.text = name  # "Mashaal" -> "Khaled Mashaal"
            for name, noun in a.descriptors:
                cand = self._find(name, True)
                if cand is not None:
                    cand.descriptors.add(noun)
                    kind = _kind_of_noun(noun)
                    if kind:
                        cand.vote(kind, 3.0)
            self.female += a.female
            asked_personal += a.asked_personal
            asked_plural += a.asked_plural
            self.male += a.male
            per_turn.append((distance, decay, [c for c in added if c is not None],
                             a.answer_has_pronoun))
        if self.topic is not None and self.topic.kind != "PERSON" and \
                asked_plural > asked_personal:
            self.topic.vote("GROUP", 100.0)  # the conversation calls its topic "they": a band...
        for distance, decay, cands, pronoun in per_turn:
            if distance > 1:
                continue
            persons = list(dict.fromkeys(c for c in cands if c.kind == "PERSON"))
            if pronoun and self.topic is not None and self.topic.kind == "PERSON" and \
                    self.topic not in persons:
                persons.insert(0, self.topic)  # "In May 1983, she married Nikos Karvelas"
            if len(persons) == 2:
                pair = _Candidate(f"{persons[0].text} and {persons[1].text}", order=distance)
                decay *= 0.85
                pair.vote("PAIR", 1.0)
                pair.keys = persons[0].keys | persons[1].keys
                self.pairs.append((pair, decay))

    def find(self, text: str) -> _Candidate | None:
        """The candidate a mention names, if any."""
        return self._find(text, True)

    def _find(self, text: str, by_name: bool) -> _Candidate | None:
        tokens = _norm_tokens(text)
        if not tokens:
            return None
        key = " ".join(tokens)
        for cand in self.candidates:
            if key in cand.keys:
                return cand
        if by_name:
            for cand in self.candidates:
                if _overlapping_name(tokens, cand):
                    return cand
        return None

    def _add(self, text: str, kind: str, weight: float, order: int, agent: bool = False
             ) -> _Candidate | None:
        tokens = _norm_tokens(text)
        if not tokens or all(t in _WH or t in _TRIGGER_WORDS for t in tokens):
            return None
        key = " ".join(tokens)
        cand = None
        for c in self.candidates:
            if key in c.keys or (kind in ("PERSON", "NAME", "GPE", "LOC", "ORG")
                                 and (_is_name(text) or kind == "PERSON")
                                 and _overlapping_name(tokens, c)
                                 and (kind != "ORG" or c.kind == "PERSON")):
                cand = c
                break
        if cand is None:
            cand = _Candidate(_definite(text), keys={key}, order=order)
            self.candidates.append(cand)
        else:
            cand.keys.add(key)
            if len(tokens) > len(_norm_tokens(cand.text)) and (
                    _is_name(text) or not _is_name(cand.text)):
                cand.text = _definite(text)
            cand.order = min(cand.order, order)
        cand.vote(kind, 0.3 if kind == "NAME" else float(len(tokens)))
        if _is_name(text) and set(tokens) & (_GROUP_NOUNS | {"daily"}):
            cand.vote("ORG", 2.0)  # "al-Quds Force", "Saudi daily Al-Hayat"
        if agent and kind in ("NAME", "GPE", "LOC"):
            cand.vote("PERSON", 1.5)  # the small model's "Mashaal" (LOC) met someone
        cand.score += weight
        return cand

    def _add_title(self, title: str) -> None:
        name, hint = _clean_title(re.split(r"\s+[—–]\s+", title)[0])  # "Name — Section"
        mentions = _mentions(name)
        whole = [m for m in mentions if len(m.text) >= 0.8 * len(name) and m.kind in _NAMED | {
            "NAME"}]
        words = name.split()
        if not any(c.isupper() for c in name):
            return  # "mc160.test.41", a file name: no topic
        looks_like_name = _is_name(name) and ":" not in name and (
            2 <= len(words) <= 4 or (len(words) == 1 and name.isupper()))
        if whole or hint or looks_like_name:
            # The title is a name (encyclopedia style): the conversation is about it.
            kind = hint or (whole[0].kind if whole else "NAME")
            if re.match(r"^the\s.*s$", name, re.I):
                kind = "GROUP"  # "The Waterboys", "The Three Stooges"
            self.topic = self._add(name, kind, 1.5, order=1000)
        else:
            for m in mentions:
                if m.kind in _NAMED:
                    self._add(m.text, m.kind, 0.2, order=1000)

    def best(self, anaphor: str, kind: str, exclude: set[str], avoid: set[int],
             verbs: frozenset[str] = frozenset()) -> _Candidate | None:
        compat = _COMPAT[kind]
        options: list[tuple[float, int, _Candidate]] = []
        pool = list(self.candidates)
        avoided = {k for c in pool if id(c) in avoid for k in c.keys}
        if kind == "group":
            pool += [p for p, _ in self.pairs]
        for cand in pool:
            if id(cand) in avoid or cand.keys & exclude or any(
                    k.split()[-1] in exclude for k in cand.keys):
                continue
            if cand.kind == "PAIR" and cand.keys & avoided:
                continue  # "How did they target her email?": "they" does not include "her"
            fit = compat.get(cand.kind, 0.0)
            if kind == "group" and cand.kind == "NORP" and not cand.text.endswith("s"):
                fit = 0.0  # "Russian" is no "they"; "Palestinians" is
            if kind == "group" and cand is self.topic and self.female + self.male == 0:
                fit = max(fit, 0.6)  # nobody is "he" or "she" here: a band, a team...
            if anaphor in cand.descriptors:
                fit = max(fit, 1.0) * 1.5  # "that site" and "news site Ynet"
            if fit <= 0:
                continue
            if any(d.startswith(v) for d in cand.descriptors for v in verbs):
                fit *= 1.5  # "which force does he command?" and "commander Qassem Soleimani"
            score = cand.score
            if cand.kind == "PAIR":
                score = next(w for p, w in self.pairs if p is cand) * 1.2
            if kind == "person" and cand is self.topic:
                score *= self._gender_fit(anaphor)
            options.append((fit * score, -cand.order, cand))
        if not options:
            return None
        options.sort(key=lambda o: (o[0], o[1]), reverse=True)
        score, _, cand = options[0]
        return cand if score >= 0.1 else None

    def _gender_fit(self, pronoun: str) -> float:
        """Does the topic person's gender, judged from the conversation's pronouns, agree?"""
        f, m = self.female, self.male
        if f + m < 2:
            return 1.0
        said = f if pronoun in _FEMALE else m
        if said == 0 and f + m >= 3:
            return 0.05
        return 1.0 if said / (f + m) >= 0.25 else 0.2


_TRIGGER_WORDS = {"he", "she", "him", "his", "her", "hers", "it", "its", "they", "them", "their",
                  "theirs", "there", "that", "this", "these", "those", "i", "you", "we", "me",
                  "us", "one", "anything", "something", "everything", "nothing", "else", "other"}


def _overlapping_name(tokens: tuple[str, ...], cand: _Candidate) -> bool:
    """"Mashaal" and "Khaled Mashaal" (or "George" and "George Foreman") name one person."""
    if cand.kind not in ("PERSON", "NAME", "GPE", "LOC") or not (
            _is_name(cand.text) or cand.kind == "PERSON"):
        return False
    # Compare with the fullest form only: "Salonga" joins "Lea Salonga", but "Feliciano
    # Genuino Salonga" (another Salonga) does not.
    other = max((tuple(k.split()) for k in cand.keys), key=len)
    short, long_ = (tokens, other) if len(tokens) <= len(other) else (other, tokens)
    return len(short) < len(long_) and (long_[-len(short):] == short
                                        or long_[: len(short)] == short)


def _is_name(text: str) -> bool:
    """A proper name: its last word and at least half of its words have a capital letter
    ("Saudi daily Al-Hayat", "al-Quds Force"; not "the Hamas delegation")."""
    words = [w for w in text.split() if w.lower() not in _DETERMINERS]
    if not words:
        return False
    capitalized = [any(c.isupper() for c in w) for w in words]
    return capitalized[-1] and 2 * sum(capitalized) >= len(words)


def _definite(text: str) -> str:
    """"a Hamas delegation" -> "the Hamas delegation" (an earlier mention is now known)."""
    text = text.strip()
    m = re.match(r"^(a|an)\s+", text, re.I)
    return "the " + text[m.end():] if m else text


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Anaphor:
    start: int  # character offsets in the question
    end: int
    kind: str  # person, thing, group, place, org
    form: str  # plain, possessive, locative
    word: str  # the pronoun or demonstrative noun
    head: int  # token index of the syntactic head (for the same-clause rule)
    role: str


def _is_pleonastic(tok: Any) -> bool:
    if tok.dep_ == "expl":
        return True
    if tok.doc[0].lower_ == "whose" and tok.head.lemma_ == "be":
        return True  # "Whose paint was it?": "it" is the paint
    head = tok.head
    later = [c for c in head.children if c.i > tok.i]
    if any(c.dep_ in ("ccomp", "csubj") for c in later):
        return True
    if head.lemma_ in ("take", "seem", "appear", "happen", "matter") and any(
            c.dep_ == "xcomp" for c in later):
        return True
    if head.lemma_ in ("make", "get") and tok.dep_ == "dobj" and any(
            c.dep_ in ("ccomp", "xcomp", "acomp", "oprd") or c.pos_ == "ADJ" for c in later):
        return True  # "make it big"
    # "Is it true that...", "Was it possible to..."
    if head.lemma_ == "be" and any(c.dep_ in ("acomp", "attr") and any(
            g.dep_ in ("ccomp", "xcomp", "advcl") for g in c.children) for c in later):
        return True
    return False


def _find_anaphors(doc: Any) -> list[_Anaphor]:
    out: list[_Anaphor] = []
    for tok in doc:
        low = tok.lower_
        if low in _PERSON_PRONOUNS | _THING_PRONOUNS | _GROUP_PRONOUNS and tok.tag_ in (
                "PRP", "PRP$"):
            if low in _THING_PRONOUNS and _is_pleonastic(tok):
                continue
            kind = "person" if low in _PERSON_PRONOUNS else (
                "thing" if low in _THING_PRONOUNS else "group")
            possessive = low in ("his", "its", "their", "hers", "theirs") or (
                low == "her" and (tok.dep_ == "poss" or tok.tag_ == "PRP$"))
            out.append(_Anaphor(tok.idx, tok.idx + len(tok.text), kind,
                                "possessive" if possessive else "plain", low, tok.head.i,
                                _role(tok)))
        elif low == "there" and tok.dep_ != "expl" and tok.tag_ != "EX" and tok.dep_ in (
                "advmod", "pobj"):
            prev = doc[tok.i - 1] if tok.i else None
            if prev is not None and tok.dep_ != "pobj" and prev.lower_ in (
                    "up", "down", "over", "out", "back", "around", "right", "in", "here"):
                continue  # "up there" stays
            form = "plain" if prev is not None and prev.pos_ == "ADP" else "locative"
            out.append(_Anaphor(tok.idx, tok.idx + len(tok.text), "place", form, low,
                                tok.head.i, "other"))
        elif low in ("that", "this", "these", "those") and tok.dep_ == "det":
            noun = tok.head
            lemma = noun.lemma_.lower()
            if noun.pos_ != "NOUN" or noun.i < tok.i:
                continue
            if lemma in _PERSON_NOUNS:
                kind = "person"
            elif lemma in _PLACE_NOUNS:
                kind = "place"
            elif lemma in _GROUP_NOUNS:
                kind = "org" if noun.tag_ == "NN" else "group"
            else:
                continue
            end_tok = noun
            # "that site from" keeps its preposition; the noun phrase is det..noun.
            out.append(_Anaphor(tok.idx, end_tok.idx + len(end_tok.text), kind,
                                "possessive" if any(c.tag_ == "POS" for c in noun.children)
                                else "plain", lemma, noun.head.i, _role(noun)))
    return out


def _surface(cand: _Candidate, form: str, at_start: bool) -> str:
    text = cand.text
    if form == "possessive":
        text = text + "'s"
    elif form == "locative":
        text = "in " + text
    if at_start:
        text = text[:1].upper() + text[1:]
    elif text.split(" ", 1)[0] in ("The", "A", "An") and not _is_name(text):
        text = text[:1].lower() + text[1:]
    return text


def _has_antecedent(doc: Any, a: _Anaphor, discourse: _Discourse) -> bool:
    """A mention of the right kind earlier in the question itself ("Did Dali have a good
    relationship with his parents?"): the pronoun refers to it and stays. A name known from
    the conversation has the kind the conversation gave it."""
    compat = _COMPAT[a.kind]
    for m in _mentions(doc.text):
        if m.start >= a.start:
            continue
        known = discourse.find(m.text)  # "Did burlesque stay true to its origins?"
        if known is None and m.kind == "NOUN":
            continue
        kind = known.kind if known is not None else m.kind
        if compat.get(kind, 0.0) >= 0.5:
            return True
        if a.kind == "person" and (m.agent or m.role == "subj" and _is_name(m.text)):
            return True  # "What did Bachmann (tagged ORG) do after her summer in Israel?"
    return False


def _question_keys(doc: Any) -> set[str]:
    keys: set[str] = set()
    for m in _mentions(doc.text):
        tokens = _norm_tokens(m.text)
        if tokens:
            keys.add(" ".join(tokens))
            if m.kind in ("PERSON", "NAME"):
                keys.add(tokens[-1])
    return keys


def _substitute(question: str, doc: Any, anaphors: list[_Anaphor], discourse: _Discourse
                ) -> str:
    exclude = _question_keys(doc)
    verbs = frozenset(t.lemma_.lower() for t in doc if t.pos_ == "VERB" and len(t.lemma_) >= 4)
    chosen: dict[str, _Candidate] = {}  # pronoun family -> referent
    subjects: dict[int, _Candidate] = {}  # clause head -> referent of its subject
    replacements: list[tuple[int, int, str]] = []
    # people first, so that "they" can leave out whoever "her" is
    for a in sorted(anaphors, key=lambda a: a.kind == "group"):
        family = {"person": "female" if a.word in _FEMALE else "male"}.get(a.kind, a.kind)
        if a.kind in ("place", "org") or a.word in _PLACE_NOUNS | _GROUP_NOUNS:
            family = f"{a.kind}:{a.word}"
        if family in chosen:
            same_clause = subjects.get(a.head)
            if a.role == "obj" and same_clause is chosen[family]:
                # "What day did it report it?": an object is not its own clause's subject.
                avoid = {id(same_clause)}
                cand = discourse.best(a.word, a.kind, exclude, avoid, verbs)
                if cand is not None:
                    replacements.append((a.start, a.end, _surface(cand, a.form, a.start == 0)))
            continue  # later pronouns of a replaced referent stay pronouns
        if a.kind in ("person", "thing", "group") and _has_antecedent(doc, a, discourse):
            chosen[family] = _Candidate("")  # later pronouns of this family stay too
            continue
        # different pronouns ("he ... her") are different people
        others = {id(c) for f, c in chosen.items() if f != family}
        cand = discourse.best(a.word, a.kind, exclude, others, verbs)
        if cand is None:
            continue
        chosen[family] = cand
        if a.role == "subj":
            subjects[a.head] = cand
        replacements.append((a.start, a.end, _surface(cand, a.form, a.start == 0)))
    for start, end, text in sorted(replacements, reverse=True):
        question = question[:start] + text + question[end:]
    return question


# --------------------------------------------------------------------------- ellipsis


def _wh_phrase(doc: Any) -> tuple[int, int] | None:
    """Token range of the leading wh-phrase ("Who", "Which force", "How many people")."""
    start = 0
    while start < len(doc) and doc[start].is_punct:
        start += 1
    if start >= len(doc) or doc[start].lower_ not in _WH:
        return None
    end = start + 1
    first = doc[start]
    if first.lower_ == "how" and end < len(doc) and doc[end].pos_ in ("ADJ", "ADV"):
        end += 1
    if first.tag_ in ("WDT", "WP", "WP$") or first.lower_ == "how":
        while end < len(doc) and doc[end].pos_ in ("ADJ", "NOUN", "PROPN", "NUM") and \
                doc[end].dep_ in ("amod", "compound", "nmod", "nsubj", "dobj", "attr",
                                  "npadvmod", "pobj", "nsubjpass", "ROOT", "conj"):
            end += 1
            if doc[end - 1].pos_ == "NOUN" and (end >= len(doc) or doc[end].pos_ != "NOUN"):
                break
    return start, end


def _gap(doc: Any, skip: range) -> int:
    """Token index after which an object wh-phrase's gap lies."""
    for tok in doc:
        if tok.i not in skip and tok.dep_ == "prep" and not any(True for _ in tok.children):
            return tok.i
    verbs = [t for t in doc if t.i not in skip and t.pos_ == "VERB"]
    if not verbs:
        return len(doc) - 1 - (1 if doc[-1].is_punct else 0)
    verb = verbs[-1]
    particles = [c for c in verb.children if c.dep_ == "prt"]
    return particles[-1].i if particles else verb.i


_DO = {"VBD": "did", "VBZ": "does", "VBP": "do"}


def _join(words: Iterable[str]) -> str:
    text = " ".join(w for w in words if w)
    text = re.sub(r"\s+([?.!,;:'’])", r"\1", text)
    text = re.sub(r"\s+(n't|'s|’s)\b", r"\1", text)
    return text


def _complete_ellipsis(question: str, doc: Any, previous: Exchange) -> str | None:
    """"Where?" after "Who did Mashaal meet?" / "Qassem Soleimani" ->
    "Where did Mashaal meet Qassem Soleimani?"."""
    new_wh = re.sub(r"^and\s+", "", question.strip().rstrip("?.! ").strip(), flags=re.I)
    if new_wh.split()[0].lower() not in ("where", "when", "why", "how"):
        return None  # "Who?" / "What?" after a question: which argument it asks is unclear
    asked = previous.standalone_question or previous.question
    pdoc = _parse(asked)
    span = _wh_phrase(pdoc)
    if span is None:
        return None
    start, end = span
    wh = pdoc[start : end]
    body = [t for t in pdoc if t.i >= end and not (t.is_punct and t.i == len(pdoc) - 1)]
    if not body:
        return None
    filler: str | None = None
    answer = (previous.answer or "").strip().rstrip(".")
    if answer and _answer_mention(asked, answer) is not None:
        filler = answer  # a short noun phrase, not a clause
    elif answer:
        filler = _leading_noun_phrase(asked, answer)
    first = wh[0]
    if first.tag_ == "WRB":  # where/when/why/how: the frame already has its subject
        return _capitalize(_join([new_wh] + [t.text for t in body]) + "?")
    nouns = [t for t in wh if t.pos_ == "NOUN"]
    if filler is None and nouns:
        noun = nouns[-1]
        filler = ("the " + " ".join(t.text for t in wh[1:])) if noun.tag_ == "NN" else \
            " ".join(t.text for t in wh[1:])
    skip = range(start, end)
    others = [t for t in pdoc if t.i not in skip and t.dep_ in ("nsubj", "nsubjpass", "expl")]
    is_subject = not others
    if not is_subject:
        gap = _gap(pdoc, skip)
        words = []
        for t in body:
            words.append(t.text)
            if t.i == gap and filler:
                words.append(filler)
        if gap < end and filler:
            words.append(filler)
        return _capitalize(_join([new_wh] + words) + "?")
    if filler is None:
        return None
    verb = pdoc[body[0].i] if body else None
    if verb is None:
        return None
    if verb.pos_ == "AUX" or verb.lemma_ == "be":
        rest = [t.text for t in body[1:]]
        return _capitalize(_join([new_wh, verb.text, filler] + rest) + "?")
    do = _DO.get(verb.tag_)
    if do is None:
        return None
    rest = [t.text for t in body[1:]]
    return _capitalize(_join([new_wh, do, filler, verb.lemma_] + rest) + "?")


def _swap(question: str, target: str, previous: Exchange) -> str | None:
    """"What about Hamas?" after "Who leads the al-Quds Force?" -> "Who leads Hamas?"."""
    asked = previous.standalone_question or previous.question
    target_mentions = _mentions(target)
    kind = target_mentions[0].kind if target_mentions else "NAME"
    for m in _mentions(asked):
        compatible = m.kind == kind or {m.kind, kind} <= {"PERSON", "NAME"} or {
            m.kind, kind} <= {"ORG", "NAME", "NORP"} or {m.kind, kind} <= {"GPE", "LOC", "NAME"}
        if compatible:
            return asked[: m.start] + target + asked[m.start + len(m.text):]
    return None


def _fix_case(question: str) -> str:
    """"DId he win" -> "Did he win" (same length: offsets still fit the question)."""
    return re.sub(r"\b([A-Z])([A-Z])([a-z]+)\b", lambda m: m.group(1) + m.group(2).lower()
                  + m.group(3), question)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_elliptical(doc: Any) -> bool:
    words = [t for t in doc if not t.is_punct]
    if not words or len(words) > 4:
        return False
    if any(t.pos_ in ("VERB", "AUX") and t.lower_ not in _WH for t in words):
        return False
    first = words[0] if words[0].lower_ != "and" else (words[1] if len(words) > 1 else None)
    return first is not None and first.lower_ in _WH


def resolve(question: str, history: Sequence[Exchange], topic: str | None = None) -> str:
    """The standalone form of `question` given the earlier turns (oldest first); `question`
    itself when it stands alone, is a greeting, or cannot be resolved. `topic` is an optional
    conversation-wide title (e.g. the article or encyclopedia entry being discussed)."""
    question = question.strip()
    if not question or (not history and not topic) or not may_need_context(question):
        return question
    try:
        return _resolve(question, history, topic)
    except Exception:  # resolution must never break asking
        log.exception("follow-up resolution failed; asking the question as it is")
        return question


def _resolve(question: str, history: Sequence[Exchange], topic: str | None) -> str:
    previous = history[-1] if history else None
    about = _ABOUT.match(question)
    if about and previous is not None:
        target = about.group("x") or about.group("y") or ""
        if target and target.split()[0].lower() not in _WH and not _TRIGGER.fullmatch(
                target.strip()):
            swapped = _swap(question, target, previous)
            if swapped:
                return swapped
    doc = _parse(_fix_case(question))
    if previous is not None and _is_elliptical(doc):
        completed = _complete_ellipsis(question, doc, previous)
        if completed:
            return completed
    anaphors = _find_anaphors(doc)
    if not anaphors:
        return question
    return _substitute(question, doc, anaphors, _Discourse(history, topic))
