"""Publication dates: validated where given, read from a page's metadata or a dateline, and
never guessed from a year that merely appears somewhere on the page."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(),
    start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
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

