"""An article's structure: its lines typed as headline, standfirst, byline, dateline, body,
caption or boilerplate, with character offsets into the stored text (which is never changed).

Light rules over the lines of the plain text, as news pages come out of a scraper or an HTML
extractor: a photo caption ends in a credit ("(AFP/...)", "(photo credit: ...)"), navigation and
sharing lines are short and made of a known vocabulary, a repeated line is a copy of what it
repeats (pages print a headline or a caption twice). What is boilerplate, or a copy, is not
indexed; captions are indexed and marked, so a reader can prefer the report's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from qa.dates import find_written_date
from qa.text import fold


class BlockKind(StrEnum):
    HEADLINE = "headline"
    STANDFIRST = "standfirst"
    BYLINE = "byline"
    DATELINE = "dateline"
    BODY = "body"
    CAPTION = "caption"
    BOILERPLATE = "boilerplate"


@dataclass(frozen=True)
class Block:
    """One line of an article: `text[start:end]` (whitespace trimmed) and what it is.
    `copy_of` is the start of the earlier identical line when this one repeats it."""

    kind: BlockKind
    start: int
    end: int
    copy_of: int | None = None

    @property
    def indexed(self) -> bool:
        """Whether its sentences go into passages: not boilerplate, not a repeat."""
        return self.kind is not BlockKind.BOILERPLATE and self.copy_of is None


_LINE = re.compile(r"[^\n]+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})

# A photo credit closing a caption, right after its last sentence (a body sentence ends with its
# full stop after any parenthesis): "2014. (AFP/al-Watan Doha/Karim Jaafar)", "(AP Photo/Name)",
# "(photo credit: AP/...)", "(Reuters/Name)", "(Valley Courier/Nate Green)", "(Getty Images)",
# "(Photo: Name/Outlet)". A bare agency name counts only as the whole credit: "(Reuters)".
_AGENCIES = (r"AP|AFP|Reuters|Getty Images|EPA|Xinhua|Bloomberg|Pool|Handout|Shutterstock|Alamy|"
             r"Flash90|Courtesy|File|Associated Press")
_CREDIT = re.compile(
    r"[.!?\"\u201d]\s*\((?:\s*(?:photo|image|picture|credit|photograph)s?(?:\s+credit)?\s*[:/]"
    r"[^()]*|[^()/]*/[^()]*|\s*(?:" + _AGENCIES + r")(?:\s+(?:photo|images?|file))?\s*)\)$",
    re.IGNORECASE)
_CREDIT_PLAIN = re.compile(r"[.!?]\s+(?:photo|image|picture|photograph)s?\s*(?:credit)?\s*:\s*"
                           r"[^.!?:]{2,60}$", re.IGNORECASE)
_CAPTION_START = re.compile(r"^(?:photo|image|picture|caption|pictured)\s*:", re.IGNORECASE)

# Navigation, sharing and page furniture: whole lines made of these words only.
_NAV_WORDS = frozenset(
    "search menu home comments comment read more related share this article story email print "
    "tweet facebook twitter whatsapp linkedin subscribe subscribed sign up in log login logout "
    "register advertisement advertising sponsored skip to content main navigation newsletter "
    "newsletters most popular trending latest news next previous back top close open copy link "
    "follow us on save for later listen audio watch video gift page continue reading click "
    "topics tags sections x".split())
_FILLER = frozenset("and the our you your now here of to".split())
_NAV_START = re.compile(
    r"^(?:read more|related|see also|also read|more from|more on|recommended|advertisement|"
    r"sign up|subscribe|follow us|share (?:this|on)|click here|copyright|all rights reserved|"
    r"this article (?:was|is) (?:originally )?(?:published|available)|"
    r"you might also like|most (?:read|shared|popular|viewed)|latest stories|read next|more in|"
    r"we use cookies|accept (?:all )?cookies|listen to (?:this )?(?:article|story)|share full article|"
    r"got a (?:news )?tip|show comments|enter your email|by signing up|topics|tags|"
    r"terms of (?:service|use)|privacy policy|report an error|editorial standards|"
    r"advertise with us|reprints|load more|join the conversation|sponsored content|"
    r"recommended for you|log in|sign in|join the discussion|"
    r"get (?:the|our)\b.{0,40}\bnewsletter)\b|^(?:\u00a9|\(c\))",
    re.IGNORECASE)
# Notices that are whole sentences but never the report's: cookie and sign-up small print.
_NOTICE = re.compile(r"^(?:we use cookies|this (?:site|website) uses cookies|by signing up|"
                     r"comments (?:are|have been) (?:closed|disabled|turned off)|"
                     r"by (?:clicking|continuing|subscribing)\b.{0,40}\byou agree)\b", re.IGNORECASE)
# A heading of links to other stories: the short unpunctuated lines under it are links.
_LINKS_HEADING = re.compile(r"^(?:related(?: coverage| stories| articles)?|read next|more in\b.*|"
                            r"recommended(?: for you)?|you might also like|more stories|"
                            r"most (?:shared|popular|read|viewed)\b.*)\s*:?$",
                            re.IGNORECASE)
_NAME = re.compile(r"^[A-Z][\w.'\u2019-]+(?: [A-Z][\w.'\u2019-]+){1,3}$")
_COPYRIGHT = re.compile(r"^(?:\u00a9|\(c\)|copyright\b|all rights reserved\b)", re.IGNORECASE)
# A menu: short title-case items separated by "|" or wide spaces ("News   Courts   Opinion")
_ITEM = r"[A-Z][\w&'-]*(?: (?:[A-Z&][\w&'-]*|of|and|for|the|with|to)){0,3}"
_MENU = re.compile(r"^" + _ITEM + r"(?:(?:\s*\|\s*| {2,}|\s*[\u00b7\u2022]\s*)" + _ITEM + r")+$")
# A reporter's role under a byline: "Business reporter", "Chief political correspondent"
_ROLES = r"reporter|writer|correspondent|editor|columnist|staff|contributor|journalist"
_ROLE = re.compile(r"^(?:[A-Z][\w-]*\s+){0,3}(?:" + _ROLES + r")s?$", re.IGNORECASE)
# Under a byline already found, a longer role or a desk: "Crime and public safety reporter"
_BYLINE_ROLE = re.compile(r"^(?:[A-Z][\w-]*\s+){0,5}(?:" + _ROLES + r"|desk|bureau|team|producer|"
                          r"photographer)s?$", re.IGNORECASE)
_BYLINE = re.compile(
    r"^[Bb][Yy]\s+[A-Z][\w.'\u2019-]*(?:\s+(?:[A-Z][\w.'\u2019-]*|and|&|,|de|van|von|al-\w+))*"
    r"(?:\s*[,|/\u2014-]\s*.{0,60})?$")
# "LISBON, March 4, 2023", "Published: 4 March 2023", "Updated March 5, 2023 10:04 am"
_DATELINE_START = re.compile(r"^(?:published|updated|posted|last updated|first published)\b[:\s]",
                             re.IGNORECASE)
_ENDS = ".!?:\"'\u201d\u2019)"
_SENTENCE_END = re.compile("[" + re.escape(_ENDS) + "]$")

# A wire dateline opening a line: the place in capitals, then maybe a state or country and a
# date (each part capitalised or a number) and the agency, then a dash and the report's first
# sentence ("ATHENS, Aug. 10 \u2014 The", "BEIRUT, Lebanon (CNN) -- Iran", "WASHINGTON
# (Reuters) - The"). A plain hyphen counts only after a date or an agency: "US - China talks",
# "CEO - Jane Doe" and "NASA \u2014 the agency" are sentences. It says where the report was
# filed, not what it reports.
_WIRE_DATELINE = re.compile(
    r"^[^\S\n]*[A-Z][A-Z.'\u2019-]+(?: [A-Z][A-Z.'\u2019-]+){0,3}"
    r"(?P<parts>(?:,[^\S\n]+[A-Z0-9][\w.]*(?:[^\S\n]+[A-Z0-9][\w.]*){0,2}){1,3})?"
    r"(?:[^\S\n]*\((?P<agency>[^()\n]{1,40})\))?"
    r"[^\S\n]*(?P<dash>\u2014|\u2013|--|-)(?=[^\S\n]*[A-Z0-9\"'\u201c\u2018])", re.MULTILINE)

# A correction's sentence that repeats what an earlier version got wrong ("An earlier version
# of this article said the ministers met in Ankara.", "This story originally said ..."): the
# value it names is the stale one. Only the article's own earlier version counts: "the mayor
# incorrectly stated X" reports what the mayor said. The sentence ends at a full stop before a
# new sentence (a capital), not at "Oct." in "Oct. 1".
_STALE_CLAIM = re.compile(
    r"[^.!?\n]*\b(?:(?:an?|the) (?:earlier|previous|prior|original) version of this "
    r"(?:article|story|report)|this (?:article|story|report) (?:(?:originally|previously|"
    r"incorrectly|erroneously|wrongly) (?:said|stated|reported|gave|identified|named)|"
    r"misstated|misidentified|misreported))\b"
    r"[^\n]*?[.!?](?=[^\S\n]+[A-Z\"\u201c]|[^\S\n]*(?:\n|$))", re.IGNORECASE)

STANDFIRST_MAX_WORDS = 60
HEADLINE_MAX_WORDS = 30
BYLINE_MAX_WORDS = 14
DATELINE_MAX_WORDS = 14


def _fold(line: str) -> str:
    """The line as compared for repeats: folded (qa.text.fold), quotes and spaces evened."""
    return " ".join(fold(line.translate(_QUOTES)).split())


def _words(line: str) -> list[str]:
    return re.findall(r"[\w'\u2019]+", line.lower())


def is_caption(line: str) -> bool:
    return bool(_CREDIT.search(line) or _CREDIT_PLAIN.search(line) or _CAPTION_START.match(line))


def is_boilerplate(line: str) -> bool:
    """Page furniture: a line opening like a link or notice ("Read more: ...", "Sign up for
    ...") that is not a sentence of the report (a colon after its opening, or no full stop and
    at most 12 words), a menu, or a few navigation words."""
    words = _words(re.sub(r"\(\d+\)", "", line))  # "Comments (14)"
    opening = _NAV_START.match(line)
    if opening and (line[opening.end() :].lstrip().startswith(":") or (
            len(words) <= 12 and not line.rstrip().endswith((".", "!", "?")))):
        return True
    if _NOTICE.match(line) and len(words) <= 40:
        return True
    if _COPYRIGHT.match(line) and len(words) <= 15:
        return True
    if _MENU.match(line) and len(_words(line)) >= 3:
        return True
    return bool(words) and len(words) <= 6 and all(w in _NAV_WORDS | _FILLER for w in words) \
        and any(w in _NAV_WORDS for w in words)


def is_byline(line: str) -> bool:
    return len(_words(line)) <= BYLINE_MAX_WORDS and bool(_BYLINE.match(line))


def wire_datelines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each wire dateline that opens a line of `text`, to the end of its dash;
    an agency in parentheses is left out (two ranges around it): it names who reported."""
    out = []
    for m in _WIRE_DATELINE.finditer(text):
        if m["dash"] == "-" and not (m["parts"] or m["agency"]):
            continue
        if m["agency"]:
            out += [(m.start(), m.start("agency")), (m.end("agency"), m.end("dash"))]
        else:
            out.append((m.start(), m.end("dash")))
    return out


def stale_claims(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` that repeats what an earlier version of the
    article wrongly said (a correction notice's)."""
    return [m.span() for m in _STALE_CLAIM.finditer(text)]


def not_answers(text: str) -> list[tuple[int, int]]:
    """What a reader must not answer with: wire datelines (where a report was filed) and a
    correction's account of what an earlier version wrongly said."""
    return sorted(wire_datelines(text) + stale_claims(text))


def is_dateline(line: str) -> bool:
    """A line of its own giving place and/or date, not a sentence."""
    if len(_words(line)) > DATELINE_MAX_WORDS or (
            line.rstrip().endswith(".") and not re.search(r"\b[ap]\.m\.$", line.rstrip())):
        return False
    return bool(_DATELINE_START.match(line)) or find_written_date(line) is not None


def article_blocks(text: str, title: str | None = None,
                   captions: tuple[tuple[int, int], ...] = ()) -> list[Block]:
    """Every non-blank line of `text`, typed. The headline is the first content line that reads
    as one (or any line equal to `title`); the standfirst is the line that follows it when that
    line is not yet the report (no closing punctuation, or a byline / dateline comes next).
    Lines within `captions` (spans the source marked, an HTML page's <figcaption>) are
    captions whatever they say."""
    lines = []
    for m in _LINE.finditer(text):
        raw = m.group()
        stripped = raw.strip()
        if stripped:
            start = m.start() + (len(raw) - len(raw.lstrip()))
            lines.append((start, start + len(stripped), stripped))
    title_key = _fold(title) if title else None
    first: dict[str, int] = {}
    kinds: list[BlockKind] = []
    copies: list[int | None] = []
    for start, end, line in lines:
        key = _fold(line)
        copies.append(first.get(key))
        first.setdefault(key, start)
        if is_caption(line) or any(a <= start and end <= b for a, b in captions):
            kinds.append(BlockKind.CAPTION)
        elif is_boilerplate(line):
            kinds.append(BlockKind.BOILERPLATE)
        elif title_key is not None and key == title_key:
            kinds.append(BlockKind.HEADLINE)
        elif is_byline(line):
            kinds.append(BlockKind.BYLINE)
        elif is_dateline(line):
            kinds.append(BlockKind.DATELINE)
        else:
            kinds.append(BlockKind.BODY)
    _mark_head(lines, kinds)
    _mark_furniture(lines, kinds)
    # a repeat takes the kind of the line it repeats
    at = {start: i for i, (start, _, _) in enumerate(lines)}
    for i, original in enumerate(copies):
        if original is not None:
            kinds[i] = kinds[at[original]]
    return [Block(kind, start, end, copy_of)
            for (start, end, _), kind, copy_of in zip(lines, kinds, copies, strict=True)]


def _mark_head(lines: list[tuple[int, int, str]], kinds: list[BlockKind]) -> None:
    """Type the headline (when no line equals the title) and the standfirst after it."""
    content = [i for i, k in enumerate(kinds) if k not in (BlockKind.CAPTION, BlockKind.BOILERPLATE)]
    if not content:
        return
    head = next((i for i in content if kinds[i] is BlockKind.HEADLINE), None)
    if head is None:
        i = content[0]
        line = lines[i][2]
        if kinds[i] is BlockKind.BODY and len(_words(line)) <= HEADLINE_MAX_WORDS \
                and not line.endswith("."):
            kinds[i] = BlockKind.HEADLINE
            head = i
    if head is None:
        return
    after = [i for i in content if i > head and _fold(lines[i][2]) != _fold(lines[head][2])]
    if not after or kinds[after[0]] is not BlockKind.BODY:
        return
    i = after[0]
    line = lines[i][2]
    if len(_words(line)) > STANDFIRST_MAX_WORDS:
        return
    next_kind = kinds[after[1]] if len(after) > 1 else None
    if not _SENTENCE_END.search(line) or next_kind in (BlockKind.BYLINE, BlockKind.DATELINE):
        kinds[i] = BlockKind.STANDFIRST


FURNITURE_MAX_WORDS = 5
# A page whose report is written in paragraphs: at least this share of its body words lie in
# lines that end as sentences (a hard-wrapped text file or a list has few such lines).
PARAGRAPH_WORD_SHARE = 0.6
# what ends a paragraph's last line: a sentence's end, or ";", "…", "»", "]", "*"
_PARAGRAPH_END = re.compile("[" + re.escape(_ENDS + ";\u2026\u00bb]*") + "]$")
_COUNT = re.compile(r"\s*\(\d+\)$")  # "Join the discussion (9)"
# A list item or a fact box's line, kept whatever its length: "- ...", "1. ...", "(a) ...",
# "Cost: $14 million"
_BULLET = re.compile(r"^(?:[-*+>\u2022\u2013\u2014\u00b7\u25aa\u25cf\u25e6\u25ba\u25b8\u25a0\u2192"
                     r"\u2713\u2714]|\d{1,2}[.)]|\(?[a-z\d]{1,2}\))\s?")
_LABELLED = re.compile(r"^[A-Z][\w'-]*(?: [\w'-]+){0,2}: \S")
# A pull quote: a quotation and its speaker, set apart from the report ("..." — Name, role),
# not a paragraph that opens with a quotation; matched with its quotes evened (_QUOTES)
_PULL_QUOTE = re.compile(r'^"[^"]+"\s*[\u2014\u2013]\s*[A-Z][^"]{0,80}(?<![.!?])$')


def _is_sentence_end(line: str) -> bool:
    return bool(_PARAGRAPH_END.search(_COUNT.sub("", line)))


def _mark_furniture(lines: list[tuple[int, int, str]], kinds: list[BlockKind]) -> None:
    """A reporter's role under a byline belongs to the byline; the short unpunctuated lines
    under a heading such as "Related Coverage" are links. Other short lines that are not
    sentences are furniture outside the report: above its first paragraph (the site's name, a
    section label) and below its last (links, a sign-up line), up to 15 words on a page
    written in paragraphs (5 between the headline and the first paragraph, where a standfirst
    may stand), up to 5 on other texts. Inside the report every line is kept (a list, a
    subheading, a results table) except a pull quote."""
    for i in range(1, len(kinds)):
        line = lines[i][2]
        if kinds[i] is not BlockKind.BODY:
            continue
        if _ROLE.match(line) and kinds[i - 1] in (BlockKind.BODY, BlockKind.STANDFIRST) \
                and _NAME.match(lines[i - 1][2]):
            kinds[i - 1] = BlockKind.BYLINE  # a byline without "By": the name over its role
        if kinds[i - 1] is BlockKind.BYLINE and _BYLINE_ROLE.match(line):
            kinds[i] = BlockKind.BYLINE

    def short(i: int, max_words: int) -> bool:
        line = lines[i][2]
        return (kinds[i] is BlockKind.BODY and len(_words(line)) <= max_words
                and not _is_sentence_end(line) and not _BULLET.match(line)
                and not _LABELLED.match(line))

    links = False
    for i, (_, _, line) in enumerate(lines):
        if kinds[i] is BlockKind.BOILERPLATE:
            links = links or bool(_LINKS_HEADING.match(line))
        elif links and short(i, HEADLINE_MAX_WORDS // 2):
            kinds[i] = BlockKind.BOILERPLATE
        else:
            links = False
    body = [i for i, k in enumerate(kinds) if k is BlockKind.BODY]
    words = {i: len(_words(lines[i][2])) for i in body}
    head = next((i for i, k in enumerate(kinds) if k is BlockKind.HEADLINE), None)
    in_sentences = sum(n for i, n in words.items() if _is_sentence_end(lines[i][2]))
    if body and in_sentences >= PARAGRAPH_WORD_SHARE * sum(words.values()):
        report = [i for i in body if words[i] > FURNITURE_MAX_WORDS and _is_sentence_end(lines[i][2])]
        for i in body:
            if _PULL_QUOTE.match(lines[i][2].translate(_QUOTES)):
                kinds[i] = BlockKind.BOILERPLATE
            elif not report or i < report[0] or i > report[-1]:
                under_headline = bool(report) and head is not None and head < i < report[0]
                if short(i, FURNITURE_MAX_WORDS if under_headline else HEADLINE_MAX_WORDS // 2):
                    kinds[i] = BlockKind.BOILERPLATE
        return
    paragraphs = [i for i in body if words[i] > FURNITURE_MAX_WORDS]
    last = paragraphs[-1] if paragraphs else len(kinds)
    for i in [*range(head or 0), *range(last + 1, len(kinds))]:
        if short(i, FURNITURE_MAX_WORDS):
            kinds[i] = BlockKind.BOILERPLATE
