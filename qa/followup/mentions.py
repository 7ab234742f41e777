"""Typed mentions: what a text names or describes, as spaCy sees it.

A `Mention` is a named entity, an unlabelled proper name, a noun phrase or a nominalized event
("a meeting" after "Where did they meet?"), with a `Kind` (one enum: spaCy's entity labels plus
the noun-phrase kinds this package gives) and the grammatical `Role` it had. Anaphors ("he",
"its", "that area") want a referent of a `Want`; `COMPAT` says how well each kind fits each.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from embeddings.nlp import load_spacy
from qa.text import fold_mention

MAX_FILLER_TOKENS = 10  # an earlier answer longer than this is not put into a question


class Kind(StrEnum):
    """What a mention is. The first ten are spaCy's entity labels."""

    PERSON = "PERSON"
    NORP = "NORP"
    ORG = "ORG"
    GPE = "GPE"
    LOC = "LOC"
    FAC = "FAC"
    PRODUCT = "PRODUCT"
    EVENT = "EVENT"
    WORK_OF_ART = "WORK_OF_ART"
    LAW = "LAW"
    NAME = "NAME"  # a proper name the model gave no label
    PERSON_NOUN = "PERSON_NOUN"  # "the commander"
    GROUP_NOUN = "GROUP_NOUN"  # "the delegation"
    PLACE_NOUN = "PLACE_NOUN"  # "the area"
    PLURAL = "PLURAL"  # "the fighters", "Zappa and the Mothers of Invention"
    NOUN = "NOUN"  # any other noun phrase
    GROUP = "GROUP"  # a band, a team: a name that is "they"
    PAIR = "PAIR"  # two people mentioned together
    THING = "THING"  # a film, a song, a book
    ACTION = "ACTION"  # a nominalized event: "the meeting" of "met"


NAMED = frozenset({Kind.PERSON, Kind.NORP, Kind.ORG, Kind.GPE, Kind.LOC, Kind.FAC,
                   Kind.PRODUCT, Kind.EVENT, Kind.WORK_OF_ART, Kind.LAW})


class Role(StrEnum):
    SUBJ = "subj"
    OBJ = "obj"
    OTHER = "other"
    ANSWER = "answer"  # the whole answer of a turn


class Want(StrEnum):
    """The kind of referent an anaphor wants."""

    PERSON = "person"  # he, she, his, that man
    THING = "thing"  # it, its
    GROUP = "group"  # they, them, those people
    PLACE = "place"  # there, that country
    ORG = "org"  # that site, this group


@dataclass(frozen=True)
class Mention:
    text: str  # surface form
    kind: Kind
    role: Role
    start: int  # character offset in its string
    agent: bool = False  # subject of a verb that takes a human subject ("Mashaal met")
    head: str = ""  # lemma of the head noun ("area" of "a Hezbollah-controlled area of Beirut")


# --------------------------------------------------------------------------- vocabularies

PERSON_PRONOUNS = frozenset({"he", "him", "his", "she", "her", "hers"})
THING_PRONOUNS = frozenset({"it", "its"})
GROUP_PRONOUNS = frozenset({"they", "them", "their", "theirs"})
FEMALE = frozenset({"she", "her", "hers"})
MALE = frozenset({"he", "him", "his"})
WH = frozenset({"who", "whom", "whose", "what", "which", "where", "when", "why", "how"})
DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those"})
PERSON_NOUNS = frozenset({
    "man", "woman", "person", "leader", "commander", "chief", "head", "president", "minister",
    "official", "guy", "boy", "girl", "king", "queen", "prince", "general", "spokesman",
    "spokeswoman", "player", "singer", "actor", "actress", "author", "writer", "founder",
    "candidate", "officer", "politician", "director", "ceo", "coach", "mother", "father",
    "mommy", "daddy", "mom", "dad", "sister", "brother", "wife", "husband", "son", "daughter",
    "friend", "farmer", "teacher", "doctor", "soldier", "journalist", "reporter", "lawyer",
})
GROUP_NOUNS = frozenset({
    "group", "organization", "organisation", "party", "movement", "force", "unit", "militia",
    "agency", "company", "firm", "paper", "newspaper", "outlet", "site", "website", "daily",
    "network", "band", "team", "club", "government", "regime", "army", "delegation",
    "administration", "council", "committee", "faction", "wing", "ministry", "family", "tribe",
    "people", "police", "court", "station", "channel", "magazine", "publication", "service",
})
COLLECTIVE_NOUNS = frozenset({
    "group", "delegation", "government", "regime", "team", "band", "family", "party", "army",
    "police", "people", "committee", "council", "administration", "militia", "tribe", "staff",
    "crew", "couple", "pair", "public", "media",
})
PLACE_NOUNS = frozenset({
    "country", "city", "place", "town", "region", "capital", "state", "nation", "area",
    "village", "province", "territory", "strip", "island", "location",
})
PARENTHETICAL_KIND: dict[str, Kind] = {
    "band": Kind.GROUP, "group": Kind.GROUP, "team": Kind.GROUP, "club": Kind.GROUP,
    "company": Kind.ORG, "film": Kind.THING, "album": Kind.THING, "song": Kind.THING,
    "novel": Kind.THING, "book": Kind.THING, "musical": Kind.THING, "play": Kind.THING,
    "tv series": Kind.THING, "video game": Kind.THING, "magazine": Kind.ORG,
    "newspaper": Kind.ORG, "people": Kind.GROUP,
}
DESCRIBING = PERSON_NOUNS | GROUP_NOUNS | PLACE_NOUNS | {"site", "daily", "weekly"}
QUANTIFIERS = frozenset({"any", "some", "no", "every", "each", "other", "another", "more",
                         "most", "all", "many", "much", "few", "several", "anything",
                         "something", "what", "which"})
GENERIC_NOUNS = frozenset({"aspect", "thing", "fact", "information", "article", "part", "time",
                           "way", "lot", "kind", "sort", "type", "anything", "something",
                           "detail", "example", "other", "one", "stuff", "point", "section",
                           "year", "day"})
HUMAN_VERBS = frozenset({
    "meet", "say", "tell", "talk", "speak", "discuss", "ask", "visit", "announce", "marry",
    "sing", "write", "claim", "believe", "want", "decide", "think", "feel", "command", "lead",
    "become", "die", "bear", "study", "play", "act", "win", "sue", "resign", "agree", "refuse",
})
# Of HUMAN_VERBS, what a news outlet does too: it says and tells; it does not meet or talk.
REPORTING_VERBS = frozenset({"say", "tell", "announce", "claim", "write"})
# Of HUMAN_VERBS, what a place is no "they" of (it is where people meet, not who).
MEETING_VERBS = frozenset({"meet", "talk", "speak", "discuss"})
# Nouns that make a name a news outlet's ("Saudi daily Al-Hayat"), and nouns that do so after
# a media word ("news site Ynet", "TV station"; not the Haqqani network or an atomic agency).
OUTLET_NOUNS = frozenset({"newspaper", "paper", "daily", "broadcaster", "magazine", "tabloid",
                          "journal", "publication", "outlet"})
MEDIA_WORDS = frozenset({"news", "tv", "television", "radio", "wire", "press"})
MEDIA_NOUNS = frozenset({"agency", "site", "website", "network", "station", "channel",
                         "service"})
# Suffixes that make an event noun of a verb ("meet" -> "meeting", "discuss" -> "discussion").
EVENT_SUFFIXES = ("ing", "ion", "ation", "ment", "al", "ance", "ence", "ure")

# How well a mention's kind fits an anaphor (0 = never). The small model mislabels short
# names (a surname as LOC, a newspaper as PERSON), hence the small cross-kind weights.
COMPAT: dict[Want, dict[Kind, float]] = {
    Want.PERSON: {Kind.PERSON: 1.0, Kind.NAME: 0.6, Kind.PERSON_NOUN: 0.6, Kind.ORG: 0.15,
                  Kind.GPE: 0.15, Kind.LOC: 0.15, Kind.FAC: 0.05},
    Want.THING: {Kind.ORG: 0.9, Kind.PRODUCT: 1.0, Kind.EVENT: 1.0, Kind.WORK_OF_ART: 1.0,
                 Kind.LAW: 1.0, Kind.FAC: 0.8, Kind.GPE: 0.5, Kind.LOC: 0.5, Kind.NOUN: 0.7,
                 Kind.NAME: 0.5, Kind.THING: 1.0, Kind.GROUP_NOUN: 0.3, Kind.ACTION: 1.0},
    Want.GROUP: {Kind.PAIR: 1.0, Kind.PLURAL: 1.0, Kind.GROUP_NOUN: 1.0, Kind.GROUP: 1.0,
                 Kind.ORG: 0.8, Kind.NORP: 0.7, Kind.NAME: 0.3, Kind.GPE: 0.15},
    Want.PLACE: {Kind.GPE: 1.0, Kind.LOC: 1.0, Kind.FAC: 1.0, Kind.PLACE_NOUN: 0.7,
                 Kind.NAME: 0.3, Kind.ORG: 0.1},
    Want.ORG: {Kind.ORG: 1.0, Kind.GROUP: 1.0, Kind.GROUP_NOUN: 0.8, Kind.NAME: 0.6,
               Kind.NORP: 0.4, Kind.PERSON: 0.1, Kind.PRODUCT: 0.3, Kind.WORK_OF_ART: 0.3,
               Kind.FAC: 0.3},
}

WORD = re.compile(r"[\w'’-]+")


# --------------------------------------------------------------------------- text helpers


def nlp() -> Any:
    return load_spacy()


class ParseMemo:
    """Bounded memo of texts run through spaCy with some components off. A turn's question
    and answer are parsed when the turn is analysed and again when the next question is an
    ellipsis of it; the memo saves the second parse in the same process (the analysis itself
    is kept with the turn). `many` runs the texts not yet seen through one `nlp.pipe`: for
    short texts about 2.5x faster than a call per text, which is what a follow-up pays when
    it first analyses several earlier turns."""

    def __init__(self, disable: tuple[str, ...] = (), size: int = 256):
        self.disable = list(disable)
        self.size = size
        self._docs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def one(self, text: str) -> Any:
        return self.many([text])[0]

    def many(self, texts: list[str]) -> list[Any]:
        with self._lock:
            found = {t: self._docs[t] for t in texts if t in self._docs}
            for text in found:
                self._docs.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            found.update(zip(missing, nlp().pipe(missing, disable=self.disable), strict=True))
            with self._lock:
                for text in missing:
                    self._docs[text] = found[text]
                while len(self._docs) > self.size:
                    self._docs.popitem(last=False)
        return [found[t] for t in texts]


PARSES = ParseMemo()
ENTITIES = ParseMemo(disable=("parser", "lemmatizer", "attribute_ruler", "tagger"), size=64)


def parse(text: str) -> Any:
    """A short text parsed (memoized: ParseMemo)."""
    return PARSES.one(text)


def parse_many(texts: list[str]) -> list[Any]:
    """Short texts parsed in one batch (memoized as `parse`)."""
    return PARSES.many(texts)


def entities_many(texts: list[str]) -> list[Any]:
    """Longer texts with their entities only, in one batch (memoized as `entities`)."""
    return ENTITIES.many(texts)


def norm_tokens(text: str) -> tuple[str, ...]:
    words = WORD.findall(fold_mention(text))
    while words and words[0] in DETERMINERS:
        words = words[1:]
    if words and words[-1].endswith("'s"):
        words[-1] = words[-1][:-2]
    return tuple(w for w in words if w)


def is_name(text: str) -> bool:
    """A proper name: its last word and at least half of its words have a capital letter
    ("Saudi daily Al-Hayat", "al-Quds Force"; not "the Hamas delegation")."""
    words = [w for w in text.split() if w.lower() not in DETERMINERS]
    if not words:
        return False
    capitalized = [any(c.isupper() for c in w) for w in words]
    return capitalized[-1] and 2 * sum(capitalized) >= len(words)


def definite(text: str) -> str:
    """"a Hamas delegation" -> "the Hamas delegation" (an earlier mention is now known); a
    name headed by a group noun takes "the" too ("al-Quds Force" -> "the al-Quds Force")."""
    text = text.strip()
    m = re.match(r"^(a|an)\s+", text, re.I)
    if m:
        return "the " + text[m.end():]
    words = text.split()
    if len(words) >= 2 and words[-1].lower() in GROUP_NOUNS and words[-1][:1].isupper() \
            and words[0].lower() != "the" and is_name(text):
        return "the " + text
    return text


def role_of(token: Any) -> Role:
    if token.dep_ in ("nsubj", "nsubjpass"):
        return Role.SUBJ
    if token.dep_ in ("dobj", "pobj", "attr", "dative", "appos", "conj"):
        return Role.OBJ
    return Role.OTHER


def noun_kind(root: Any) -> Kind:
    lemma = root.lemma_.lower()
    if lemma in PERSON_NOUNS:
        return Kind.PERSON_NOUN
    if lemma in COLLECTIVE_NOUNS:
        return Kind.GROUP_NOUN
    if lemma in PLACE_NOUNS:
        return Kind.PLACE_NOUN
    if root.tag_ in ("NNS", "NNPS"):
        return Kind.PLURAL
    if lemma in GROUP_NOUNS:
        return Kind.GROUP_NOUN
    return Kind.NOUN


def kind_of_noun(word: str) -> Kind | None:
    if word in PERSON_NOUNS:
        return Kind.PERSON
    if word in PLACE_NOUNS:
        return Kind.GPE
    if word in GROUP_NOUNS or word in ("site", "daily", "weekly"):
        return Kind.ORG
    return None


def is_agent(token: Any) -> bool:
    return bool(token.dep_ == "nsubj" and token.head.lemma_.lower() in HUMAN_VERBS)


def is_event_noun(noun_lemma: str, verb_lemma: str) -> bool:
    """"meeting" of "meet", "discussion" of "discuss" (not "commander" of "command")."""
    stem = verb_lemma[:-1] if verb_lemma.endswith("e") and len(verb_lemma) > 4 else verb_lemma
    if len(stem) < 3 or not noun_lemma.startswith(stem):
        return False
    rest = noun_lemma[len(stem):]
    return rest in EVENT_SUFFIXES or (rest[:1] == stem[-1:] and rest[1:] in EVENT_SUFFIXES)


# --------------------------------------------------------------------------- extraction


def mentions_of(doc: Any) -> tuple[Mention, ...]:
    """Named entities, unlabelled proper names and noun phrases of a parsed text."""
    out: list[Mention] = []
    covered: set[int] = set()
    for ent in doc.ents:
        if ent.label_ not in NAMED:
            continue
        span = ent
        if span[-1].tag_ == "POS":
            span = span[:-1]
        if not len(span):
            continue
        out.append(Mention(span.text, Kind(ent.label_), role_of(span.root), span.start_char,
                           is_agent(span.root)))
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
        if span.text.lower() not in WH and len(span.text) > 1:
            out.append(Mention(span.text, Kind.NAME, role_of(span.root), span.start_char,
                               is_agent(span.root)))
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.pos_ not in ("NOUN", "PROPN") or any(t.lower_ in WH for t in chunk):
            continue
        if any(t.pos_ == "PRON" for t in chunk):
            continue
        if all(t.i in covered for t in chunk if t.pos_ != "DET"):
            continue  # the chunk is just an entity
        if chunk[0].lower_ in QUANTIFIERS or root.lemma_.lower() in GENERIC_NOUNS:
            continue  # "any other interesting aspects", "some information": not referents
        if root.pos_ == "PROPN" and root.i in covered:
            continue
        # A noun phrase around a name ("a Hamas delegation") is a mention of its own.
        out.append(Mention(chunk.text, noun_kind(root), role_of(root), chunk.start_char,
                           head=root.lemma_.lower()))
    return tuple(out)


def mentions(text: str) -> tuple[Mention, ...]:
    return mentions_of(parse(text))


def phrases_of(doc: Any) -> list[Mention]:
    """Noun phrases with their "of ..." complement, for a demonstrative to name ("that area"
    -> "a Hezbollah-controlled area of Beirut"); pronoun-headed and generic ones left out."""
    out = []
    for chunk in doc.noun_chunks:
        root = chunk.root
        if root.pos_ != "NOUN" or any(t.pos_ == "PRON" or t.lower_ in WH for t in chunk):
            continue
        if root.lemma_.lower() in GENERIC_NOUNS:
            continue
        end = chunk.end
        of = [c for c in root.children if c.dep_ == "prep" and c.lower_ == "of" and c.i == end]
        if of:
            objects = [c for c in of[0].children if c.dep_ == "pobj"]
            if objects:
                end = objects[0].right_edge.i + 1
        start = chunk.start
        while start < root.i and (doc[start].lower_ in QUANTIFIERS or doc[start].pos_ == "NUM"):
            start += 1  # "several supernatural abilities" -> "supernatural abilities"
        span = doc[start:end]
        if len(WORD.findall(span.text)) > MAX_FILLER_TOKENS:
            continue
        out.append(Mention(span.text, noun_kind(root), role_of(root), span.start_char,
                           head=root.lemma_.lower()))
    return out


def entities(text: str) -> Any:
    """A longer text with its named entities only (no tagger, no parser: cheap; memoized)."""
    return ENTITIES.one(text)


def event_word(text: str, verb_lemma: str) -> str | None:
    """The first word of `text` naming the event of `verb_lemma` ("meeting" of "meet"), by
    its form alone (no parse)."""
    for word in WORD.findall(text):
        low = word.lower()
        singular = low[:-1] if low.endswith("s") and not low.endswith("ss") else low
        if is_event_noun(singular, verb_lemma):
            return singular
    return None


def labels_of(doc: Any) -> tuple[tuple[str, Kind], ...]:
    """(name, kind) of the named entities of a tagged text."""
    return tuple((e.text, Kind(e.label_)) for e in doc.ents if e.label_ in NAMED)


def wh_noun(question: str) -> str | None:
    """The noun of a question's wh-phrase: "Which other outlet carried..." -> "outlet"."""
    m = re.match(r"^\s*(?:which|what)\s+(?:other\s+|kind of\s+|sort of\s+)?([a-z]+)\b",
                 question, re.I)
    if not m:
        return None
    word = m.group(1).lower()
    word = word[:-1] if word.endswith("s") and word[:-1] in DESCRIBING else word
    return word if word in DESCRIBING else None


def answer_mention(question: str, answer: str, doc: Any = None) -> Mention | None:
    """The whole answer as one mention when it is a short noun phrase (`doc`: the answer
    already parsed)."""
    tokens = WORD.findall(answer)
    if not tokens or len(tokens) > MAX_FILLER_TOKENS:
        return None
    doc = doc if doc is not None else parse(answer)
    if any(t.pos_ in ("VERB", "AUX") for t in doc) or doc[0].pos_ in ("ADP", "SCONJ"):
        return None
    if not any(t.pos_ in ("NOUN", "PROPN") for t in doc):
        return None
    wh = question.strip().split()[0].lower() if question.strip() else ""
    if wh == "when" or wh == "how" and re.match(r"^\s*how (many|much|long|old)\b", question, re.I):
        return None
    ents = [e for e in doc.ents if e.label_ in NAMED]
    kind: Kind
    if ents and len(ents[0].text) >= 0.6 * len(answer.strip()):
        kind = Kind(ents[0].label_)
    elif all(t.pos_ in ("PROPN", "DET", "PUNCT", "ADJ") for t in doc):
        kind = Kind.NAME
    else:
        kind = noun_kind(doc[:].root)
    noun = wh_noun(question)
    if any(t.dep_ == "cc" for t in doc) and kind not in (Kind.ORG, Kind.NORP):
        kind = Kind.PLURAL  # "Zappa and the Mothers of Invention"
    elif noun in COLLECTIVE_NOUNS:
        kind = Kind.GROUP  # the answer to "What group disbanded?"
    elif noun and kind_of_noun(noun) and kind in (Kind.NAME, Kind.NOUN, Kind.PERSON, Kind.GPE,
                                                  Kind.LOC):
        kind = kind_of_noun(noun) or kind  # "Which other outlet...?" -> an ORG
    elif {t.lower_ for t in doc} & (GROUP_NOUNS | {"daily"}) and kind in (Kind.NAME,
                                                                         Kind.PERSON):
        kind = Kind.ORG  # "Saudi daily Al-Hayat"
    elif wh in ("who", "whom") and kind in (Kind.NAME, Kind.GPE, Kind.LOC):
        kind = Kind.PERSON
    elif wh == "where" and kind in (Kind.NAME, Kind.NOUN):
        kind = Kind.GPE
    return Mention(answer.strip().strip("\"'“”‘’()[]"), kind, Role.ANSWER, 0,
                   head=doc[:].root.lemma_.lower())


_WH_KINDS = {"who": (Kind.PERSON,), "whom": (Kind.PERSON,),
             "where": (Kind.GPE, Kind.LOC, Kind.FAC)}


def answer_entity(question: str, answer: str, doc: Any = None) -> Mention | None:
    """The name in an answer that is not itself a short noun phrase, when the question asked
    for that kind: "Quds force chief Qassem Soleimani" (which the small model parses with
    "force" as a verb) answers "Who did he meet?" with "Qassem Soleimani"."""
    words = question.strip().split()
    kinds = _WH_KINDS.get(words[0].lower(), ()) if words else ()
    if not kinds or len(WORD.findall(answer)) > MAX_FILLER_TOKENS:
        return None
    ents = [e for e in (doc if doc is not None else parse(answer)).ents if e.label_ in kinds]
    if len(ents) != 1:
        return None
    return Mention(ents[0].text, Kind(ents[0].label_), Role.ANSWER, ents[0].start_char,
                   head=ents[0].root.lemma_.lower())


def leading_noun_phrase(question: str, answer: str) -> str | None:
    """The noun phrase a longer answer starts with, when it would itself be a short answer:
    "an office in a Hezbollah-controlled area of Beirut - a request..." -> "an office"."""
    chunk = next(iter(parse(answer).noun_chunks), None)
    if chunk is None or chunk.start != 0:
        return None
    return chunk.text if answer_mention(question, chunk.text) is not None else None


def descriptors(text: str, name: str) -> list[str]:
    """Nouns that describe `name` in `text`: "news site Ynet", "Soleimani, a ... leader"."""
    out = []
    for m in re.finditer(r"\b([a-z]+)\s+" + re.escape(name), text):
        if m.group(1) in DESCRIBING:
            out.append(m.group(1))
    for m in re.finditer(re.escape(name) + r",\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,3}?([a-z]+)\b",
                         text):
        if m.group(1) in DESCRIBING:
            out.append(m.group(1))
    return out


def clean_title(title: str) -> tuple[str, Kind | None]:
    """A title without its parenthetical, and the kind that parenthetical names."""
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", title)
    if not m:
        return title.strip(), None
    hint = m.group(2).lower()
    for word, kind in PARENTHETICAL_KIND.items():
        if word in hint:
            return m.group(1).strip(), kind
    return m.group(1).strip(), Kind.PERSON  # "(activist)", "(baseball)", "(footballer)"...
