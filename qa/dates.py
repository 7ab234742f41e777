"""Publication dates: validated where given, read from a page's metadata or a dateline, and
never guessed from a year that merely appears somewhere on the page."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

_FULL_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {m: i for i, m in enumerate(_FULL_MONTHS, start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
#: month names and their abbreviations ("sept", "aug"), lower-case, to month numbers
MONTH_NUMBERS: dict[str, int] = dict(_MONTHS)
MONTH_WORDS = frozenset(_MONTHS)
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ISO = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
                  r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_MONTH_DAY_YEAR = re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})",
                             re.IGNORECASE)
_DAY_MONTH_YEAR = re.compile(r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>\d{4})",
                             re.IGNORECASE)


class DateError(ValueError):
    """A publication date that is not a date this service can read unambiguously."""


def _checked(year: int, month: int | None = None, day: int | None = None) -> str:
    if not 1 <= year <= 9999:
        raise DateError(f"year {year} is out of range")
    if month is None:
        return f"{year:04d}"
    if day is None:
        if not 1 <= month <= 12:
            raise DateError(f"month {month} is out of range")
        return f"{year:04d}-{month:02d}"
    try:
        return date(year, month, day).isoformat()
    except ValueError as exc:
        raise DateError(str(exc)) from exc


def _from_match(m: re.Match[str]) -> str:
    month = m.group("month")
    number = _MONTHS[month.lower().rstrip(".")] if month and not month.isdigit() else \
        (int(month) if month else None)
    day = m.group("day") if "day" in m.groupdict() else None
    return _checked(int(m.group("year")), number, int(day) if day else None)


def parse_date(value: str) -> str:
    """An ISO date (YYYY, YYYY-MM or YYYY-MM-DD) from ISO 8601 (a datetime keeps its date), or
    from an unambiguous written date ("7 October 2014", "Oct. 7, 2014"). Raises DateError for
    anything else: "yesterday", "08/10/2023" (day or month first?), "2024-13-01"."""
    text = " ".join(value.split())
    for pattern in (_ISO, _MONTH_DAY_YEAR, _DAY_MONTH_YEAR):
        m = pattern.fullmatch(text)
        if m:
            return _from_match(m)
    raise DateError(f"{value!r} is not a date: use ISO 8601 (e.g. 2014-10-07) or a written date "
                    "such as '7 October 2014'")


def published_field(value: object, what: str) -> str | None:
    """A record's `published` value validated (None when absent); DateError names `what`."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DateError(f"{what}: 'published' must be a string date, got {type(value).__name__}")
    try:
        return parse_date(value)
    except DateError as exc:
        raise DateError(f"{what}: {exc}") from exc


# A dateline's date comes early in its line ("WASHINGTON, March 5, 2024 -", "Published: ...");
# a caption's date comes late ("... in the Qatari capital of Doha, on August 10, 2014.").
_DATELINE_START = 40


def find_written_date(line: str) -> str | None:
    """A complete written or ISO date starting within the first characters of `line` (a
    dateline, "Published ..."), if any."""
    found = [m for p in (_MONTH_DAY_YEAR, _DAY_MONTH_YEAR) for m in p.finditer(line)]
    found += list(re.finditer(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b", line))
    for m in sorted(found, key=lambda m: m.start()):
        if m.start() > _DATELINE_START:
            break
        try:
            return _from_match(m)
        except DateError:
            continue
    return None


def dateline_date(text: str, lines: int = 3, max_line_chars: int = 200) -> str | None:
    """A date stated at the top of an article: a full date on one of its first `lines` short
    lines ("WASHINGTON, March 5, 2024 -", "Published 5 March 2024"). A year alone never counts."""
    top = [ln.strip() for ln in text.splitlines() if ln.strip()][:lines]
    for line in top:
        if len(line) <= max_line_chars and (found := find_written_date(line)):
            return found
    return None


_META_NAMES = ("article:published_time", "og:published_time", "datepublished", "date",
               "pubdate", "publishdate", "publish-date", "publish_date", "dc.date",
               "dc.date.issued", "dcterms.created", "dcterms.issued", "sailthru.date",
               "parsely-pub-date", "article.published", "published_time")


def _json_ld_dates(node: Any) -> list[str]:
    if isinstance(node, list):
        return [d for item in node for d in _json_ld_dates(item)]
    if not isinstance(node, dict):
        return []
    found = [node["datePublished"]] if isinstance(node.get("datePublished"), str) else []
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        found += _json_ld_dates(node.get(key))
    return found


def html_published(tree: Any) -> str | None:
    """The publication date a page declares (an lxml tree): JSON-LD `datePublished`, a
    publication-date meta tag, or a `<time>` marked as the publication time (else the first
    `<time datetime>`). None when the page declares none."""
    candidates: list[str] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            candidates += _json_ld_dates(json.loads(script.text_content()))
        except ValueError:
            continue
    for meta in tree.xpath("//meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _META_NAMES and meta.get("content"):
            candidates.append(meta.get("content"))
    candidates += tree.xpath('//time[@itemprop="datePublished" or @pubdate]/@datetime')
    candidates += tree.xpath("//time[@datetime]/@datetime")[:1]
    for value in candidates:
        try:
            return parse_date(value.strip())
        except DateError:
            continue
    return None



# Dates in an article's text, resolved against its publication date ---------------------------
@dataclass(frozen=True)
class DateMention:
    """Words of a text that name a time (`text[start:end]`), and what they mean: a day
    (YYYY-MM-DD), a month (YYYY-MM) or a year (YYYY) in `value`, or a range of days in
    `first` / `last` ("last week", "over the summer"), resolved against the article's
    publication date."""

    start: int
    end: int
    value: str | None = None
    first: str | None = None
    last: str | None = None


_MONTH_NAMES = "(?:" + "|".join(_FULL_MONTHS) + "|(?:" + "|".join(
    sorted((m for m in _MONTHS if m not in _FULL_MONTHS), key=len, reverse=True)) + r")\.?)"
_WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_RELATIVE = re.compile(
    r"\b(?:"
    r"(?P<full>" + _MONTH_NAMES + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}(?:st|nd|rd|th)?\s+"
    + _MONTH_NAMES + r",?\s+\d{4}|\d{4}-\d{2}-\d{2})"
    r"|(?P<mdmonth>" + _MONTH_NAMES + r")\s+(?P<mdday>\d{1,2})(?:st|nd|rd|th)?\b(?!,?\s+\d)"
    r"|(?P<dayword>yesterday|today|tomorrow)"
    r"|(?:(?P<wdmod>last|this|next|on|earlier on|late on)\s+)?(?P<weekday>" + "|".join(WEEKDAYS)
    + r")(?!\s*,?\s*(?:" + _MONTH_NAMES + r"|\d))"
    r"|(?<![\d.,])(?P<ago>\d+|" + "|".join(_WORD_NUMBERS) + r"|a|an)\s+(?P<agounit>days?|weeks?|months?|"
    r"years?)\s+ago"
    r"|(?P<unitmod>last|this|next|earlier this|later this|past)\s+(?P<unit>week|month|year)"
    r"|(?P<seasonmod>over the|this|last|next|during the|in the|earlier this|late this)\s+"
    r"(?P<season>summer|winter|spring|autumn|fall)(?:\s+of\s+(?P<seasonyear>\d{4}))?"
    r"|(?:(?P<part>early|mid|late|earlier in|later in|in|on|since|by|until|from|last|next)[\s-]+"
    r"(?:the\s+)?)?"
    r"(?P<month>" + _MONTH_NAMES + r")(?![a-z])(?:\s+(?P<monthyear>\d{4})|(?!\.?\s+\d))"
    r"|(?P<yearprep>in|since|by|during|until)\s+(?P<year>(?:19|20)\d{2})\b(?![\d,.]\d)"
    r")",
    re.IGNORECASE)
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}
# Words before a weekday or month, in its clause, that put it ahead of the report: "will visit on
# Friday", "would reopen in March", "is scheduled for Monday"
_FUTURE = re.compile(r"\b(?:will|would|shall|won't|must|has to|have to|to be|is to|are to|was to|were to|"
                     r"plans?|planned|planning|scheduled|set to|expected|is due|are due|"
                     r"upcoming)\b|'ll\b", re.IGNORECASE)
_CLAUSE_START = re.compile(r"[.!?;\n][\s\"'\u201d\u2019]*|\bbut\b|\band\b", re.IGNORECASE)
# "March next year", "in May last year": the month of that year
_MONTH_YEAR_WORD = re.compile(r"\s+(?P<which>next|last|this) year\b", re.IGNORECASE)


def _looks_ahead(text: str, start: int, reach: int = 80) -> bool:
    """Whether the clause before `start` speaks of the future."""
    before = text[max(0, start - reach) : start]
    cuts = list(_CLAUSE_START.finditer(before))
    return bool(_FUTURE.search(before[cuts[-1].end() :] if cuts else before))


def _month_end(year: int, month: int) -> date:
    from calendar import monthrange

    return date(year, month, monthrange(year, month)[1])


def _span_of(start: date, end: date) -> tuple[str, str]:
    return start.isoformat(), end.isoformat()


def _month_number(word: str) -> int:
    return _MONTHS[word.lower().rstrip(".")]


def resolve_dates(text: str, published: str | None) -> list[DateMention]:
    """Every time expression of `text` that can be pinned to a date: written dates always;
    relative ones ("Tuesday", "last week", "late August", "over the summer", "two days ago")
    only when `published` is a full date (YYYY-MM-DD), since they mean nothing without it.
    Reporting looks back: a weekday or a month without "next" is the latest one on or before
    the publication date (news style names the day of the week even for the same day)."""
    from datetime import timedelta

    day0: date | None = None
    if published and len(published) == 10:
        try:
            day0 = date.fromisoformat(published)
        except ValueError:
            day0 = None
    found: list[DateMention] = []
    for m in _RELATIVE.finditer(text):
        g = m.groupdict()
        mention: DateMention | None = None
        if found and m.start() < found[-1].end:  # "March next year": its "next year" is taken
            continue
        named = g["month"] or g["mdmonth"]
        if named and not named[0].isupper():
            continue  # "march" the verb, "may" the verb: a month is written with a capital
        if g["weekday"] and re.match(r"\s+[A-Z][a-z]", text[m.end() :]) and not g["wdmod"]:
            continue  # "Sunday Times": a name, not a day
        try:
            if g["full"]:
                mention = DateMention(m.start(), m.end(), value=parse_date(g["full"]))
            elif g["month"] and g["monthyear"]:
                value = _checked(int(g["monthyear"]), _month_number(g["month"]))
                mention = DateMention(_month_start(m), m.end(), value=value)
            elif g["year"]:
                mention = DateMention(m.start("year"), m.end("year"), value=g["year"])
            elif day0 is None:
                continue
            elif g["mdmonth"]:  # "Aug. 5": the latest such day, or the next when said ahead
                month, day = _month_number(g["mdmonth"]), int(g["mdday"])
                ahead = _looks_ahead(text, m.start())
                year = day0.year
                if not ahead and (month, day) > (day0.month, day0.day):
                    year -= 1
                elif ahead and (month, day) < (day0.month, day0.day):
                    year += 1
                mention = DateMention(m.start(), m.end(), value=_checked(year, month, day))
            elif g["dayword"]:
                shift = {"yesterday": -1, "today": 0, "tomorrow": 1}[g["dayword"].lower()]
                mention = DateMention(m.start(), m.end(), value=(day0 + timedelta(shift)).isoformat())
            elif g["weekday"]:
                target = WEEKDAYS.index(g["weekday"].lower())
                if (g["wdmod"] or "").lower() == "next" or (
                        not g["wdmod"] or g["wdmod"].lower() == "on") and _looks_ahead(text, m.start()):
                    delta = (target - day0.weekday()) % 7 or 7
                elif (g["wdmod"] or "").lower() == "last":
                    delta = -((day0.weekday() - target) % 7 or 7)
                elif (g["wdmod"] or "").lower() == "this":  # the same week, Monday to Sunday
                    delta = target - day0.weekday()
                else:  # news style: "said Tuesday" in Tuesday's paper is that day
                    delta = -((day0.weekday() - target) % 7)
                start = m.start("wdmod") if (g["wdmod"] or "").lower() in ("last", "next", "this") \
                    else m.start("weekday")
                mention = DateMention(start, m.end(), value=(day0 + timedelta(delta)).isoformat())
            elif g["ago"]:
                n = g["ago"].lower()
                count = 1 if n in ("a", "an") else _WORD_NUMBERS.get(n) or int(n)
                unit = g["agounit"].lower().rstrip("s")
                if unit in ("day", "week"):
                    when = day0 - timedelta(days=count * (7 if unit == "week" else 1))
                    mention = DateMention(m.start(), m.end(), value=when.isoformat())
                elif unit == "month":
                    y, mo = divmod(day0.year * 12 + day0.month - 1 - count, 12)
                    mention = DateMention(m.start(), m.end(), value=_checked(y, mo + 1))
                else:
                    mention = DateMention(m.start(), m.end(), value=str(day0.year - count))
            elif g["unit"]:
                mention = _unit_mention(m, g["unitmod"].lower(), g["unit"].lower(), day0)
            elif g["season"]:
                mention = _season_mention(m, g["seasonmod"].lower(), g["season"].lower(), day0,
                                          int(g["seasonyear"]) if g["seasonyear"] else None)
            elif g["month"]:
                mention = _month_mention(text, m, (g["part"] or "").lower(), g["month"], day0)
        except (DateError, ValueError):
            continue
        if mention is not None:
            found.append(mention)
    return found


def _unit_mention(m: re.Match[str], mod: str, unit: str, day0: date) -> DateMention | None:
    from datetime import timedelta

    step = {"last": -1, "past": -1, "next": 1}.get(mod, 0)
    if unit == "week":
        monday = day0 - timedelta(days=day0.weekday()) + timedelta(weeks=step)
        end = day0 if mod == "earlier this" else monday + timedelta(days=6)
        return DateMention(m.start(), m.end(), first=monday.isoformat(), last=end.isoformat())
    if unit == "month":
        y, mo = divmod(day0.year * 12 + day0.month - 1 + step, 12)
        if mod == "earlier this":
            return DateMention(m.start(), m.end(), None, *_span_of(date(y, mo + 1, 1), day0))
        return DateMention(m.start(), m.end(), value=_checked(y, mo + 1))
    if mod == "earlier this":
        return DateMention(m.start(), m.end(), None, *_span_of(date(day0.year, 1, 1), day0))
    return DateMention(m.start(), m.end(), value=str(day0.year + step))


def _season_mention(m: re.Match[str], mod: str, season: str, day0: date,
                    year_given: int | None = None) -> DateMention | None:
    if season == "winter":
        return None  # spans two years; not pinned
    first, last = _SEASONS[season]
    year = day0.year if day0.month >= first else day0.year - 1  # the latest one begun
    if year_given is not None:  # "the fall of 2012"
        year = year_given
    elif mod in ("this", "late this", "earlier this"):
        year = day0.year  # this year's, whether it has begun or not
    elif mod == "last" and first <= day0.month <= last:
        year -= 1  # "last summer" said in summer: the one before
    elif mod == "next":
        year = day0.year if day0.month < first else day0.year + 1
    return DateMention(m.start(), m.end(), None,
                       *_span_of(date(year, first, 1), _month_end(year, last)))


def _month_mention(text: str, m: re.Match[str], part: str, month_word: str, day0: date
                   ) -> DateMention | None:
    if not part and not _MONTH_YEAR_WORD.match(text, m.end()):
        return None  # a bare "June" is as often a name ("June Carter"): only "in June", "late June"
    month = _month_number(month_word)
    end = m.end()
    if which := _MONTH_YEAR_WORD.match(text, m.end()):
        year = day0.year + {"next": 1, "last": -1, "this": 0}[which.group("which").lower()]
        end = which.end()
    elif part == "next" or (part != "last" and _looks_ahead(text, m.start())):
        year = day0.year if month > day0.month else day0.year + 1
    else:
        year = day0.year if month <= day0.month else day0.year - 1
        if part == "last" and month == day0.month:
            year -= 1
    return DateMention(_month_start(m), end, value=_checked(year, month))


def _month_start(m: re.Match[str]) -> int:
    """Where a month mention starts: with "early", "late", "last"... (they are part of what it
    means), after a bare preposition ("in", "since")."""
    part = (m.group("part") or "").lower()
    meaningful = ("early", "mid", "late", "earlier in", "later in", "last", "next")
    return m.start("part") if part in meaningful else m.start("month")


def mention_at(mentions: list[DateMention], start: int, end: int) -> DateMention | None:
    """The mention that overlaps [start, end) most (None when none does)."""
    best, overlap = None, 0
    for mention in mentions:
        shared = min(end, mention.end) - max(start, mention.start)
        if shared > overlap:
            best, overlap = mention, shared
    return best
