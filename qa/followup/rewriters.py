"""Rewriters: small rules, each proposing standalone forms of a follow-up question.

Every rewriter has one interface, `rewrite(question, context) -> list[Candidate]`, where
`question` is the parsed follow-up (`QuestionAnalysis`) and `context` the conversation so far
(`Context`: the earlier turns with their analyses, and the discourse model built from them).
A candidate carries the rule's own preference (`prior`: its first choice 1.0, alternatives
less) and how many spans it replaced; the resolver (qa/followup/resolver.py) picks among them.

* `WhatAbout`: "what about X?" swaps X for the mention of the same kind in the previous question.
* `Ellipsis`: "Where?" after "Who did Mashaal meet?" / "Qassem Soleimani" -> "Where did Mashaal
  meet Qassem Soleimani?" (the previous question's wh-phrase replaced, its gap filled with the
  previous answer).
* `Anaphora`: pronouns and demonstratives replaced by the most salient earlier referent that
  agrees with them (and, as an alternative, the runner-up); "that area" by an earlier phrase
  with the same head noun; "his unit" also by the group the person belongs to.
* `TopicPhrase`: "these abilities" with no earlier "abilities" -> "the topic's abilities".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from qa.followup.analysis import Exchange, TurnAnalysis, analysis_of, prime
from qa.followup.discourse import Discourse, Referent
from qa.followup.mentions import (
    COMPAT,
    FEMALE,
    GENERIC_NOUNS,
    GROUP_NOUNS,
    GROUP_PRONOUNS,
    PERSON_NOUNS,
    PERSON_PRONOUNS,
    PLACE_NOUNS,
    THING_PRONOUNS,
    WH,
    Kind,
    Mention,
    Role,
    Want,
    answer_entity,
    answer_mention,
    clean_title,
    is_name,
    leading_noun_phrase,
    mentions,
    mentions_of,
    norm_tokens,
    parse,
    role_of,
)

ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$"
                   r"|^\s*and\s+(?P<y>.+?)\s*\?\s*$", re.I)
TRIGGER = re.compile(
    r"\b(he|she|him|his|her|hers|it|its|they|them|their|theirs|there|that|this|these|those)\b",
    re.I,
)


@dataclass(frozen=True)
class Candidate:
    """A standalone form of the question proposed by a rewriter."""

    text: str
    source: str  # the rewriter ("raw" for the question as asked)
    prior: float  # the rule's own preference: 1 its first choice, less for alternatives
    substitutions: int = 0  # spans replaced or filled


@dataclass(frozen=True)
class Anaphor:
    start: int  # character offsets in the question
    end: int
    want: Want
    form: str  # plain, possessive, locative
    word: str  # the pronoun or demonstrative noun
    head: int  # token index of the syntactic head (for the same-clause rule)
    role: Role
    demonstrative: bool = False
    noun: str = ""  # "unit" of "his unit", "area" of "that area"
    noun_end: int = 0  # end offset of that noun


class QuestionAnalysis:
    """The follow-up question, parsed once for every rewriter."""

    def __init__(self, text: str):
        self.text = text
        self.doc = parse(fix_case(text))

    @cached_property
    def mentions(self) -> tuple[Mention, ...]:
        return mentions_of(self.doc)

    @cached_property
    def anaphors(self) -> list[Anaphor]:
        return find_anaphors(self.doc)

    @cached_property
    def elliptical(self) -> bool:
        words = [t for t in self.doc if not t.is_punct]
        if not words or len(words) > 4:
            return False
        if any(t.pos_ in ("VERB", "AUX") and t.lower_ not in WH for t in words):
            return False
        first = words[0] if words[0].lower_ != "and" else (words[1] if len(words) > 1 else None)
        return first is not None and first.lower_ in WH


@dataclass
class Context:
    """The conversation a follow-up is resolved against."""

    history: Sequence[Exchange]
    topic: str | None = None
    analyses: list[TurnAnalysis] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.analyses:
            prime(list(self.history))
            self.analyses = [analysis_of(t) for t in self.history]

    @property
    def previous(self) -> Exchange | None:
        return self.history[-1] if self.history else None

    @cached_property
    def discourse(self) -> Discourse:
        topics = [self.topic] if self.topic else []
        topics += [t.topic for t in reversed(self.history) if t.topic]
        return Discourse(self.analyses, topics)

    @cached_property
    def topic_name(self) -> str | None:
        """The conversation's topic when its title is a name (see Discourse)."""
        topic = self.discourse.topic
        if topic is None:
            return None
        return clean_title(topic.text)[0]


class Rewriter(Protocol):
    name: str

    def rewrite(self, question: QuestionAnalysis, context: Context) -> list[Candidate]: ...


# --------------------------------------------------------------------------- what about X


class WhatAbout:
    name = "what_about"

    def rewrite(self, question: QuestionAnalysis, context: Context) -> list[Candidate]:
        about = ABOUT.match(question.text)
        previous = context.previous
        if not about or previous is None:
            return []
        target = about.group("x") or about.group("y") or ""
        if not target or target.split()[0].lower() in WH or TRIGGER.fullmatch(target.strip()):
            return []
        asked = previous.standalone_question or previous.question
        target_mentions = mentions(target)
        kind = target_mentions[0].kind if target_mentions else Kind.NAME
        for m in mentions(asked):
            if m.kind == kind or {m.kind, kind} <= {Kind.PERSON, Kind.NAME} or {
                    m.kind, kind} <= {Kind.ORG, Kind.NAME, Kind.NORP} or {
                    m.kind, kind} <= {Kind.GPE, Kind.LOC, Kind.NAME}:
                text = asked[: m.start] + target + asked[m.start + len(m.text):]
                return [Candidate(text, self.name, 1.0, 1)]
        return []


# --------------------------------------------------------------------------- ellipsis


class Ellipsis:
    name = "ellipsis"

    def rewrite(self, question: QuestionAnalysis, context: Context) -> list[Candidate]:
        previous = context.previous
        if previous is None or not question.elliptical:
            return []
        completed = complete_ellipsis(question.text, previous)
        return [Candidate(completed, self.name, 1.0, 1)] if completed else []


def wh_phrase(doc: Any) -> tuple[int, int] | None:
    """Token range of the leading wh-phrase ("Who", "Which force", "How many people")."""
    start = 0
    while start < len(doc) and doc[start].is_punct:
        start += 1
    if start >= len(doc) or doc[start].lower_ not in WH:
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
    """Token index after which an object wh-phrase's gap lies: a stranded preposition
    ("meet with?"), else the last verb (or its particle)."""
    for tok in doc:
        if tok.i in skip:
            continue
        # "talk about?" and "talk about with Iran?": the preposition whose object, if any, is
        # the wh-phrase itself
        stranded = tok.dep_ == "prep" and all(c.i in skip for c in tok.children)
        # "Who did he meet with?": the small model may attach a final "with" as a particle
        final = tok.pos_ == "ADP" and tok.i + 1 < len(doc) and doc[tok.i + 1].is_punct \
            and tok.i + 2 >= len(doc)
        if stranded or final:
            return tok.i
    verbs = [t for t in doc if t.i not in skip and t.pos_ == "VERB"]
    if not verbs:
        return len(doc) - 1 - (1 if doc[-1].is_punct else 0)
    verb = verbs[-1]
    particles = [c for c in verb.children if c.dep_ == "prt"]
    return particles[-1].i if particles else verb.i


_DO = {"VBD": "did", "VBZ": "does", "VBP": "do"}


def join(words: Iterable[str]) -> str:
    text = " ".join(w for w in words if w)
    text = re.sub(r"\s+([?.!,;:'’])", r"\1", text)
    text = re.sub(r"\s+(n't|'s|’s)\b", r"\1", text)
    return text


def glued(tokens: Sequence[Any]) -> list[str]:
    """The words of consecutive tokens as written: tokens with no space between them stay one
    word ("Al-Hayat", not "Al - Hayat")."""
    words: list[str] = []
    for n, tok in enumerate(tokens):
        prev = tokens[n - 1] if n else None
        if prev is not None and prev.i + 1 == tok.i and not prev.whitespace_:
            words[-1] += tok.text
        else:
            words.append(tok.text)
    return words


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def fix_case(question: str) -> str:
    """"DId he win" -> "Did he win" (same length: offsets still fit the question)."""
    return re.sub(r"\b([A-Z])([A-Z])([a-z]+)\b", lambda m: m.group(1) + m.group(2).lower()
                  + m.group(3), question)


def complete_ellipsis(question: str, previous: Exchange) -> str | None:
    new_wh = re.sub(r"^and\s+", "", question.strip().rstrip("?.! ").strip(), flags=re.I)
    if new_wh.split()[0].lower() not in ("where", "when", "why", "how"):
        return None  # "Who?" / "What?" after a question: which argument it asks is unclear
    asked = previous.standalone_question or previous.question
    pdoc = parse(asked)
    span = wh_phrase(pdoc)
    if span is None:
        return None
    start, end = span
    wh = pdoc[start:end]
    body = [t for t in pdoc if t.i >= end and not (t.is_punct and t.i == len(pdoc) - 1)]
    if not body:
        return None
    filler: str | None = None
    answer = (previous.answer or "").strip().rstrip(".")
    entity = answer_entity(asked, answer) if answer else None
    if answer and answer_mention(asked, answer) is not None:
        filler = answer  # a short noun phrase, not a clause
    elif entity is not None:
        filler = entity.text  # the name the question asked for, in a longer answer
    elif answer:
        filler = leading_noun_phrase(asked, answer)
    if wh[0].tag_ == "WRB":  # where/when/why/how: the frame already has its subject
        return capitalize(join([new_wh] + glued(body)) + "?")
    nouns = [t for t in wh if t.pos_ == "NOUN"]
    if filler is None and nouns:
        noun = nouns[-1]
        filler = ("the " + " ".join(t.text for t in wh[1:])) if noun.tag_ == "NN" else \
            " ".join(t.text for t in wh[1:])
    skip = range(start, end)
    others = [t for t in pdoc if t.i not in skip and t.dep_ in ("nsubj", "nsubjpass", "expl")]
    if others:  # the wh-phrase was an object: fill its gap
        gap = _gap(pdoc, skip)
        if filler is None and pdoc[gap].pos_ == "ADP":
            # "What did they talk about?" -> "When?": "When did they talk?", no stranded "about"
            body = [t for t in body if t.i != gap]
        words = glued([t for t in body if t.i <= gap])
        if filler and gap >= end:
            words.append(filler)
        words += glued([t for t in body if t.i > gap])
        if gap < end and filler:
            words.append(filler)
        return capitalize(join([new_wh] + words) + "?")
    if filler is None:
        return None
    verb = pdoc[body[0].i]
    rest = glued(body[1:])
    if verb.pos_ == "AUX" or verb.lemma_ == "be":
        return capitalize(join([new_wh, verb.text, filler] + rest) + "?")
    do = _DO.get(verb.tag_)
    if do is None:
        return None
    return capitalize(join([new_wh, do, filler, verb.lemma_] + rest) + "?")


# --------------------------------------------------------------------------- anaphora


def is_pleonastic(tok: Any) -> bool:
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


def find_anaphors(doc: Any) -> list[Anaphor]:
    out: list[Anaphor] = []
    for tok in doc:
        low = tok.lower_
        if low in PERSON_PRONOUNS | THING_PRONOUNS | GROUP_PRONOUNS and tok.tag_ in (
                "PRP", "PRP$"):
            if low in THING_PRONOUNS and is_pleonastic(tok):
                continue
            want = Want.PERSON if low in PERSON_PRONOUNS else (
                Want.THING if low in THING_PRONOUNS else Want.GROUP)
            possessive = low in ("his", "its", "their", "hers", "theirs") or (
                low == "her" and (tok.dep_ == "poss" or tok.tag_ == "PRP$"))
            noun, noun_end = "", 0
            if possessive and tok.head.pos_ == "NOUN" and tok.head.i > tok.i:
                noun, noun_end = tok.head.lemma_.lower(), tok.head.idx + len(tok.head.text)
            out.append(Anaphor(tok.idx, tok.idx + len(tok.text), want,
                               "possessive" if possessive else "plain", low, tok.head.i,
                               role_of(tok), noun=noun, noun_end=noun_end))
        elif low == "there" and tok.dep_ != "expl" and tok.tag_ != "EX" and tok.dep_ in (
                "advmod", "pobj"):
            prev = doc[tok.i - 1] if tok.i else None
            if prev is not None and tok.dep_ != "pobj" and prev.lower_ in (
                    "up", "down", "over", "out", "back", "around", "right", "in", "here"):
                continue  # "up there" stays
            form = "plain" if prev is not None and prev.pos_ == "ADP" else "locative"
            out.append(Anaphor(tok.idx, tok.idx + len(tok.text), Want.PLACE, form, low,
                               tok.head.i, Role.OTHER))
        elif low in ("that", "this", "these", "those") and tok.dep_ == "det":
            noun = tok.head
            lemma = noun.lemma_.lower()
            if noun.pos_ != "NOUN" or noun.i < tok.i:
                continue
            if lemma in PERSON_NOUNS:
                want = Want.PERSON
            elif lemma in PLACE_NOUNS:
                want = Want.PLACE
            elif lemma in GROUP_NOUNS:
                want = Want.ORG if noun.tag_ == "NN" else Want.GROUP
            else:
                want = Want.THING  # "that request", "these abilities": a phrase, see Anaphora
            possessive = any(c.tag_ == "POS" for c in noun.children)
            out.append(Anaphor(tok.idx, noun.idx + len(noun.text), want,
                               "possessive" if possessive else "plain", lemma, noun.head.i,
                               role_of(noun), demonstrative=True, noun=lemma,
                               noun_end=noun.idx + len(noun.text)))
    return out


def surface(text: str, form: str, at_start: bool) -> str:
    if form == "possessive":
        text = text + "'s"
    elif form == "locative":
        text = "in " + text
    if at_start:
        text = text[:1].upper() + text[1:]
    elif text.split(" ", 1)[0] in ("The", "A", "An") and not is_name(text):
        text = text[:1].lower() + text[1:]
    return text


def has_antecedent(question: QuestionAnalysis, a: Anaphor, discourse: Discourse) -> bool:
    """A mention of the right kind earlier in the question itself ("Did Dali have a good
    relationship with his parents?"): the pronoun refers to it and stays. A name known from
    the conversation has the kind the conversation gave it."""
    compat = COMPAT[a.want]
    for m in question.mentions:
        if m.start >= a.start:
            continue
        known = discourse.find(m.text)  # "Did burlesque stay true to its origins?"
        if known is None and (m.kind == Kind.NOUN or a.want == Want.GROUP
                              and m.kind == Kind.PLURAL and m.role != Role.SUBJ):
            continue  # "What did the critics think of their albums?": "their" is not theirs
        kind = known.kind if known is not None else m.kind
        if compat.get(kind, 0.0) >= 0.5:
            return True
        if a.want == Want.PERSON and (m.agent or m.role == Role.SUBJ and is_name(m.text)):
            return True  # "What did Bachmann (tagged ORG) do after her summer in Israel?"
    return False


def question_keys(question: QuestionAnalysis) -> set[str]:
    keys: set[str] = set()
    for m in question.mentions:
        tokens = norm_tokens(m.text)
        if tokens:
            keys.add(" ".join(tokens))
            if m.kind in (Kind.PERSON, Kind.NAME):
                keys.add(tokens[-1])
    return keys


Replacement = tuple[int, int, str]


class Anaphora:
    name = "anaphora"

    def rewrite(self, question: QuestionAnalysis, context: Context) -> list[Candidate]:
        anaphors = question.anaphors
        if not anaphors or not context.history and not context.topic:
            return []
        discourse = context.discourse
        chosen, alternatives = self._substitute(question, anaphors, discourse)
        out = []
        if chosen:
            out.append(Candidate(apply(question.text, chosen), self.name, 1.0, len(chosen)))
        for replacements, prior in alternatives:
            if replacements:
                out.append(Candidate(apply(question.text, replacements), self.name, prior,
                                     len(replacements)))
        return out

    def _substitute(self, question: QuestionAnalysis, anaphors: list[Anaphor],
                    discourse: Discourse
                    ) -> tuple[list[Replacement], list[tuple[list[Replacement], float]]]:
        """The rule's choice of replacements, and alternatives (each with its prior): the
        runner-up referent for the first anaphor replaced, and the phrase-level readings of
        "that area" / "his unit"."""
        doc = question.doc
        exclude = question_keys(question)
        verbs = frozenset(t.lemma_.lower() for t in doc if t.pos_ == "VERB"
                          and len(t.lemma_) >= 4)
        chosen: dict[str, Referent] = {}  # pronoun family -> referent
        subjects: dict[int, Referent] = {}  # clause head -> referent of its subject
        replacements: list[Replacement] = []
        alternatives: list[tuple[list[Replacement], float]] = []
        # people first, so that "they" can leave out whoever "her" is
        for a in sorted(anaphors, key=lambda a: a.want == Want.GROUP):
            at_start = a.start == 0
            if a.demonstrative:
                same = discourse.by_head(a.noun)
                if same is not None and not (norm_tokens(same.text) and " ".join(
                        norm_tokens(same.text)) in exclude):
                    # "that area" -> "the Hezbollah-controlled area of Beirut"
                    replacements.append((a.start, a.end, surface(same.text, a.form, at_start)))
                    continue
                if a.noun not in PERSON_NOUNS | PLACE_NOUNS | GROUP_NOUNS:
                    continue  # "these abilities": see TopicPhrase; "this time" stays
            family = {Want.PERSON: "female" if a.word in FEMALE else "male"}.get(
                a.want, str(a.want))
            if a.want in (Want.PLACE, Want.ORG) or a.word in PLACE_NOUNS | GROUP_NOUNS:
                family = f"{a.want}:{a.word}"
            if family in chosen:
                same_clause = subjects.get(a.head)
                if a.role == Role.OBJ and same_clause is chosen[family]:
                    # "What day did it report it?": an object is not its own clause's subject.
                    ref = discourse.best(a.word, a.want, exclude, {id(same_clause)}, verbs)
                    if ref is not None:
                        replacements.append((a.start, a.end, surface(ref.text, a.form,
                                                                     at_start)))
                continue  # later pronouns of a replaced referent stay pronouns
            if a.want in (Want.PERSON, Want.THING, Want.GROUP) and \
                    has_antecedent(question, a, discourse):
                chosen[family] = Referent("")  # later pronouns of this family stay too
                continue
            # different pronouns ("he ... her") are different people
            others = {id(r) for f, r in chosen.items() if f != family}
            subject_of = doc[a.head].lemma_.lower() if a.role == Role.SUBJ else ""
            ranked = discourse.ranked(a.word, a.want, exclude, others, verbs, subject_of)
            if not ranked:
                continue
            ref = ranked[0][1]
            chosen[family] = ref
            if a.role == Role.SUBJ:
                subjects[a.head] = ref
            here = (a.start, a.end, surface(ref.text, a.form, at_start))
            if not replacements and not alternatives and len(ranked) > 1:
                runner_up = ranked[1][1]
                alternatives.append(([(a.start, a.end, surface(runner_up.text, a.form,
                                                               at_start))], 0.5))
            if a.form == "possessive" and a.noun in GROUP_NOUNS:
                group = self._group_of(discourse, exclude, ref)
                if group is not None:  # "his unit" -> "the al-Quds Force"
                    reading = (a.start, a.noun_end, surface(group.text, "plain", at_start))
                    if group.order <= ref.order:
                        # the group was named at least as recently as its member: it is the
                        # rule's choice, the member's possessive the alternative
                        alternatives.append(([here], 0.5))
                        here = reading
                    else:
                        alternatives.append(([reading], 0.5))
            replacements.append(here)
        return replacements, alternatives

    @staticmethod
    def _group_of(discourse: Discourse, exclude: set[str], person: Referent
                  ) -> Referent | None:
        for _score, ref in discourse.ranked("", Want.ORG, exclude, {id(person)}):
            if ref.kind in (Kind.ORG, Kind.GROUP, Kind.GROUP_NOUN) and ref is not person:
                return ref
        return None


def apply(question: str, replacements: list[Replacement]) -> str:
    for start, end, text in sorted(replacements, reverse=True):
        question = question[:start] + text + question[end:]
    return question


class TopicPhrase:
    """"What are some of these abilities?" in a conversation about Pinhead -> "What are some
    of Pinhead's abilities?" (no earlier phrase has the noun "abilities")."""

    name = "topic_phrase"

    def rewrite(self, question: QuestionAnalysis, context: Context) -> list[Candidate]:
        topic = context.topic_name
        if topic is None:
            return []
        for a in question.anaphors:
            if not a.demonstrative or a.noun in PERSON_NOUNS | PLACE_NOUNS | GROUP_NOUNS \
                    or a.noun in GENERIC_NOUNS:
                continue  # "this time": not the topic's
            if context.discourse.by_head(a.noun) is not None:
                continue
            det_end = a.start + len(question.text[a.start:].split(" ", 1)[0])
            text = question.text[:a.start] + surface(topic, "possessive", a.start == 0) + \
                question.text[det_end:]
            return [Candidate(text, self.name, 0.5, 1)]
        return []


REWRITERS: tuple[Rewriter, ...] = (WhatAbout(), Ellipsis(), Anaphora(), TopicPhrase())
