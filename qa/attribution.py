"""Who said it: the sources a news text attributes its reports to.

A question that asks for a source ("Who reported the meeting?", "Which newspaper broke the
story?", "According to whom ...?") wants the name of an outlet, a person or a body that the
text says reported, said or told something. The reader finds it, but can cut the name: on the
sample article it answered "Saudi daily" for "Which newspaper reported the meeting ...?".
Here the dependency parse finds the text's sources (the subject of a reporting verb, the agent
of its passive, the object of "according to", the one told), and a span that stops just before
the rest of a source's name is carried to the name's end (see qa.reader). Only that: making the
reader choose among the sources found lost on SQuAD train's source questions (the parse misses
sources written other ways), so the reader still decides what to answer.
"""

from __future__ import annotations

import re
from typing import Any

from embeddings.nlp import load_spacy

# Verbs that ask for a source whatever follows ("Who confirmed the closure?").
# ("reports", "claims", "states" only after "who": "What other Indian states ...?" is a noun.)
_SAYS = ("report|reported|reporting|said|say|saying|announced|announce|announces|revealed|"
         "reveal|reveals|told|tell|tells|disclosed|discloses|confirmed|confirms|claimed|stated")
_SAYS_AFTER_WHO = _SAYS + "|reports|claims|states"
# Verbs that do only with a news object or a news outlet asked for ("ran the report", "Which
# newspaper published ..."), not "Which composer wrote ...".
_CARRIES = ("broke|break|breaks|carried|carry|carries|ran|run|runs|published|publish|"
            "publishes|wrote|write|writes")
_MEDIA = ("newspaper|paper|daily|outlet|site|website|agency|broadcaster|network|channel|"
          "station|magazine|journal|publication|tabloid|wire|service|source|reporter|journalist")
_NEWS = ("news|story|report|article|interview|claim|account|piece|item|rumou?r|allegation|"
         "scoop|leak")
_AUX = r"(?!(?:did|does|do|was|were|is|are|has|have|had|will|would|can|could)\b)"
_WORDS = r"(?:\s+" + _AUX + r"[\w'-]+)"
# "What percentage of teens report ...?" asks for a number.
_NOT_A_SOURCE = r"(?!\s+(?:percentage|percent|proportion|number|share|fraction|amount|portion)\b)"
# A chat's lead-in: "And who reported it?", "In the article, who ...?"
_START = r"^\W*(?:(?:and|so|but|then|ok|okay)\W+|in\s+(?:the|this|that)\s+\w+\W+)?"
_WHO = r"who(?:\s+else)?"
_WHICH = r"(?:which|what)" + _NOT_A_SOURCE + _WORDS + r"{1,4}?"
_BEFORE_VERB = (r"\s+(?:(?:first|also|originally|later|initially)\s+)?"
                r"(?:(?:was|were)\s+(?:the\s+)?first\s+to\s+)?"
                r"(?:(?:has|have|had|is|are|was|were)\s+)?")
# The source is what the wh-phrase asks for: "Who reported ...", "Which news agency (first)
# reported ...", "Which broadcaster was first to report ...", "According to whom ...", "Which
# broadcaster did the mayor tell ...". "What did Tehran say?" asks for what was said, and in
# "Which book by Edward Said ..." the name is not a verb: verbs match in lower case only.
_SOURCE_QUESTION = re.compile(
    _START + _WHO + _BEFORE_VERB + r"(?-i:" + _SAYS_AFTER_WHO + r")\b"
    r"|" + _START + _WHICH + _BEFORE_VERB + r"(?-i:" + _SAYS + r")\b"
    r"|" + _START + r"(?:which|what)" + _WORDS + r"{0,3}?\s+(?:" + _MEDIA + r")s?"
    + _BEFORE_VERB + r"(?-i:" + _CARRIES + r")\b"
    r"|" + _START + r"(?:" + _WHO + r"|" + _WHICH + r")" + _BEFORE_VERB
    + r"(?-i:" + _CARRIES + r")\s+(?:(?:the|a|an|its|their|this|that)\s+)?(?:[\w'-]+\s+)?"
    r"(?:" + _NEWS + r")\b"
    r"|\baccording\s+to\s+(?:whom|who|which|what)\b"
    r"|" + _START + r"(?:who|whom|which" + _WORDS + r"{1,3}?)\s+(?:did|had|has|does)\s+"
    r".{1,80}?\b(?-i:tell|told|inform|informed)\b",
    re.IGNORECASE)
REPORTING_LEMMAS = frozenset({"report", "break", "say", "announce", "reveal", "carry", "run",
                              "publish", "write", "tell", "disclose", "confirm", "claim",
                              "state", "quote", "cite"})
_TOLD_LEMMAS = frozenset({"tell", "inform"})
# A name's characters: a tokenizer left "organization,[web" whole in a SQuAD paragraph.
_NAME = re.compile(r"[\w'.&-]+(?: [\w'.&-]+)*")
_CORE_DEPS = frozenset({"det", "amod", "compound", "nmod", "poss", "nummod", "quantmod",
                        "npadvmod"})


def asks_for_source(question: str) -> bool:
    """Whether the question asks who reported, said or was told something."""
    return bool(_SOURCE_QUESTION.search(question))


def source_heads(doc: Any) -> list[Any]:
    """The head tokens of the phrases a parsed text names as sources: subjects of reporting
    verbs ("Al-Hayat reported"), agents of their passives ("carried by Ynet"), objects of
    "according to", and those told ("told The Times of Israel"); never a pronoun."""
    heads: list[Any] = []
    for token in doc:
        if token.lemma_.lower() in REPORTING_LEMMAS and token.pos_ in ("VERB", "AUX"):
            for child in token.children:
                if child.dep_ == "nsubj":
                    heads.append(child)
                elif child.dep_ == "agent":
                    heads.extend(c for c in child.children if c.dep_ == "pobj")
                elif child.dep_ in ("dobj", "dative") and token.lemma_.lower() in _TOLD_LEMMAS:
                    heads.append(child)
        elif token.lower_ == "according":
            for to in (c for c in token.children if c.lower_ == "to"):
                heads.extend(c for c in to.children if c.dep_ == "pobj")
    return [h for h in heads if h.pos_ != "PRON" and "\n" not in _between(h, h.head).text]


def _between(a: Any, b: Any) -> Any:
    """The tokens from `a` to `b` (either order; a head and its verb: a parse can join a
    dateline to the sentence after it)."""
    return a.doc[min(a.i, b.i) : max(a.i, b.i) + 1]


def _joins(doc: Any, i: int, end: int) -> bool:
    """Whether token i is a hyphen or the like inside one name ("Al-Hayat": "Al", "-",
    "Hayat"): no space on either side and a proper noun after it, within the phrase."""
    return (i + 1 <= end and doc[i].text in ("-", "'", ".", "&") and not doc[i - 1].whitespace_
            and not doc[i].whitespace_ and doc[i + 1].pos_ == "PROPN")


def _phrase(head: Any) -> tuple[int, int]:
    """First and last token of the source phrase headed by `head`: the head with its
    modifiers before it, or with a name in apposition right after ("the broadcaster NCTV")."""
    left = [t for t in head.lefts if t.dep_ in _CORE_DEPS]
    named = [t for t in head.rights if t.dep_ == "appos" and t.left_edge.i == head.i + 1]
    return (min([head.i] + [t.left_edge.i for t in left]),
            named[0].right_edge.i if named else head.i)


def _names(doc: Any, start: int, end: int) -> list[tuple[int, int]]:
    """First and last token of each run of proper nouns within tokens start..end (a hyphen or
    the like inside one name joins it: "Al-Hayat")."""
    runs: list[tuple[int, int]] = []
    for i in range(start, end + 1):
        if runs and i == runs[-1][1] + 1 and (doc[i].pos_ == "PROPN" or _joins(doc, i, end)):
            runs[-1] = (runs[-1][0], i)
        elif doc[i].pos_ == "PROPN":
            runs.append((i, i))
    return runs


def source_names(doc: Any) -> list[tuple[int, int, int]]:
    """The proper names in source phrases, each as (the end offset of the word before it in
    the phrase, or its own start; its start; its end): "Al-Hayat" of "Saudi daily Al-Hayat"
    is (end of "daily", start, end of "Al-Hayat"). Never across a line break."""
    out: list[tuple[int, int, int]] = []
    for head in source_heads(doc):
        start, end = _phrase(head)
        for first, last in _names(doc, start, end):
            name = doc[first : last + 1]
            j = first - 1  # the word before the name, past a space ("site\xa0Ynet")
            while j >= start and doc[j].is_space and "\n" not in doc[j].text:
                j -= 1
            before = doc[j] if j >= start else None
            if not _NAME.fullmatch(name.text) or (before is not None and before.is_space):
                continue
            # After punctuation the name is not the same phrase's: only a cut inside it is
            # mended.
            after = name.start_char if before is None or before.is_punct \
                else before.idx + len(before)
            out.append((after, name.start_char, name.end_char))
    return out


def source_names_of(texts: list[str]) -> list[list[tuple[int, int, int]]]:
    """`source_names` of each text (offsets into that text), parsed in one stream."""
    nlp = load_spacy()
    return [source_names(doc) for doc in nlp.pipe(texts, disable=["ner"])]
