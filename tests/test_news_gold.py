"""Checks of the "news articles as news" gold set (eval/gold/news/): page structure labels,
question answers and normalized dates, and the near-duplicate pairs. Reads only the JSON files."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

NEWS = Path(__file__).parents[1] / "eval" / "gold" / "news"
LINE_KINDS = {"headline", "standfirst", "byline", "dateline", "body", "caption", "boilerplate"}
QUESTION_KINDS = {"event", "when", "who_reported", "number", "photo", "unanswerable"}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _jsonl(name: str) -> list[dict[str, Any]]:
    with open(NEWS / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def articles() -> list[dict[str, Any]]:
    return _jsonl("articles.jsonl")


@pytest.fixture(scope="module")
def labels() -> list[dict[str, Any]]:
    return _jsonl("labels.jsonl")


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return _jsonl("questions.jsonl")


@pytest.fixture(scope="module")
def pairs() -> list[dict[str, Any]]:
    return _jsonl("duplicates.jsonl")


@pytest.fixture(scope="module")
def by_key(articles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for a in articles}


@pytest.fixture(scope="module")
def lines_by_key(labels: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {lab["key"]: lab["lines"] for lab in labels}


def _lines_of(text: str, lines: list[dict[str, Any]], kind: str) -> list[str]:
    return [text[ln["start"] : ln["end"]] for ln in lines if ln["kind"] == kind]


# --------------------------------------------------------------------------- articles and labels


def test_articles_fields_and_split(articles: list[dict[str, Any]]) -> None:
    assert len(articles) >= 10
    assert len({a["key"] for a in articles}) == len(articles)
    for i, a in enumerate(articles):
        assert set(a) == {"key", "url", "title", "outlet", "published", "split", "text"}
        assert a["key"] == a["url"]
        assert re.match(r"https://[a-z0-9-]+\.example/", a["url"]), a["url"]
        date.fromisoformat(a["published"])
        # articles 6-12 are the test split; 13 on were written later, as more tuning data
        assert a["split"] == ("test" if 5 <= i < 12 else "tuning")
        assert a["title"] and a["outlet"] and a["text"]


def test_labels_cover_every_non_blank_line_in_order(
    articles: list[dict[str, Any]], labels: list[dict[str, Any]]
) -> None:
    assert [lab["key"] for lab in labels] == [a["key"] for a in articles]
    for a, lab in zip(articles, labels, strict=True):
        text = a["text"]
        expected: list[tuple[int, int]] = []
        pos = 0
        for line in text.split("\n"):
            if line.strip():
                start = pos + len(line) - len(line.lstrip())
                expected.append((start, start + len(line.strip())))
            pos += len(line) + 1
        got = [(ln["start"], ln["end"]) for ln in lab["lines"]]
        assert got == expected, a["key"]
        for ln in lab["lines"]:
            assert set(ln) == {"start", "end", "kind"}
            assert ln["kind"] in LINE_KINDS, ln


def test_article_page_structure(
    articles: list[dict[str, Any]], lines_by_key: dict[str, list[dict[str, Any]]]
) -> None:
    for a in articles:
        text, lines = a["text"], lines_by_key[a["key"]]
        kinds = Counter(ln["kind"] for ln in lines)
        assert kinds["caption"] >= 1 and kinds["boilerplate"] >= 1, a["key"]
        assert kinds["headline"] >= 1 and kinds["byline"] >= 1 and kinds["standfirst"] == 1, a["key"]
        assert all(h == a["title"] for h in _lines_of(text, lines, "headline"))
        assert all(b.startswith("By ") for b in _lines_of(text, lines, "byline")[:1])
        body = _lines_of(text, lines, "body")
        assert 5 <= len(body) <= 9, a["key"]
        assert 250 <= sum(len(p.split()) for p in body) <= 450, a["key"]
        assert 1 <= len(set(_lines_of(text, lines, "caption"))) <= 3
        # the standfirst (deck) is printed without a final period
        assert not _lines_of(text, lines, "standfirst")[0].endswith(".")
        # no body paragraph is repeated as a caption or as boilerplate
        others = set(_lines_of(text, lines, "caption")) | set(_lines_of(text, lines, "boilerplate"))
        assert not others & set(body)


def test_datelines(articles: list[dict[str, Any]], lines_by_key: dict[str, list[dict[str, Any]]]) -> None:
    own_line = leading = 0
    for a in articles:
        text, lines = a["text"], lines_by_key[a["key"]]
        datelines = _lines_of(text, lines, "dateline")
        first_body = _lines_of(text, lines, "body")[0]
        if datelines:
            own_line += 1
            assert len(datelines) == 1
            m = re.fullmatch(r"[A-Z][A-Z ]+, ([A-Z][a-z]+)\.? (\d{1,2}), (\d{4})", datelines[0])
            assert m, datelines[0]
            month = MONTHS.index(m.group(1)[:3].lower()) + 1
            assert date(int(m.group(3)), month, int(m.group(2))).isoformat() == a["published"]
        else:
            leading += 1
            assert re.match(r"[A-Z][A-Z ]+(, [A-Z][a-z]+)?( \([A-Za-z ]+\))? — ", first_body), first_body[:40]
    assert own_line >= 3 and leading >= 3


def test_captions_are_file_photos_with_credits(
    articles: list[dict[str, Any]], lines_by_key: dict[str, list[dict[str, Any]]]
) -> None:
    for a in articles:
        for cap in _lines_of(a["text"], lines_by_key[a["key"]], "caption"):
            assert re.search(r"\([^()]+\)$", cap), cap
            years = [int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", cap)]
            assert years and max(years) < int(a["published"][:4]), cap


# --------------------------------------------------------------------------- questions


def test_question_fields_ids_and_offsets(
    questions: list[dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
    lines_by_key: dict[str, list[dict[str, Any]]],
) -> None:
    ids = [q["id"] for q in questions]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"news-q\d{2,3}", i) for i in ids)
    for q in questions:
        art = by_key[q["key"]]
        assert q["kind"] in QUESTION_KINDS
        assert q["split"] == art["split"]
        assert q["question"].endswith("?")
        assert len(q["answers"]) == len(q["answer_start"])
        if q["kind"] == "unanswerable":
            assert q["answers"] == [] and q["answer_start"] == [] and q["block"] is None
            assert "date" not in q
            continue
        assert q["answers"], q["id"]
        assert q["block"] in LINE_KINDS
        for ans, start in zip(q["answers"], q["answer_start"], strict=True):
            assert art["text"][start : start + len(ans)] == ans, (q["id"], ans)
            holder = [
                ln for ln in lines_by_key[q["key"]] if ln["start"] <= start and start + len(ans) <= ln["end"]
            ]
            assert len(holder) == 1 and holder[0]["kind"] == q["block"], (q["id"], ans)


def test_question_counts(questions: list[dict[str, Any]], articles: list[dict[str, Any]]) -> None:
    kinds = Counter(q["kind"] for q in questions)
    assert len(questions) >= 70
    assert kinds["unanswerable"] >= 10
    assert 4 <= kinds["photo"] <= len(questions) // 10
    assert min(kinds[k] for k in QUESTION_KINDS) >= 4
    assert sum(1 for q in questions if q["kind"] == "when" and "date" in q) >= 15
    assert {q["key"] for q in questions} == {a["key"] for a in articles}
    assert {q["split"] for q in questions} == {"tuning", "test"}


def test_photo_answers_are_only_in_captions(
    questions: list[dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
    lines_by_key: dict[str, list[dict[str, Any]]],
) -> None:
    for q in questions:
        if q["kind"] != "photo":
            continue
        assert q["block"] == "caption"
        text = by_key[q["key"]]["text"]
        elsewhere = [
            text[ln["start"] : ln["end"]] for ln in lines_by_key[q["key"]] if ln["kind"] != "caption"
        ]
        for ans in q["answers"]:
            assert not any(ans in line for line in elsewhere), (q["id"], ans)


def _parse_date(value: str) -> tuple[date, date]:
    """First and last day that a YYYY, YYYY-MM or YYYY-MM-DD value covers."""
    if re.fullmatch(r"\d{4}", value):
        return date(int(value), 1, 1), date(int(value), 12, 31)
    if re.fullmatch(r"\d{4}-\d{2}", value):
        assert 1 <= int(value[5:]) <= 12, value
        first = date(int(value[:4]), int(value[5:]), 1)
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), value
    day = date.fromisoformat(value)
    return day, day


def test_dates_are_well_formed_and_follow_the_rules(
    questions: list[dict[str, Any]], by_key: dict[str, dict[str, Any]]
) -> None:
    for q in questions:
        if "date" not in q:
            continue
        assert q["kind"] in {"when", "photo"}, q["id"]
        pub = date.fromisoformat(by_key[q["key"]]["published"])
        value = q["date"]
        if isinstance(value, dict):
            assert set(value) == {"from", "to"}
            lo, hi = date.fromisoformat(value["from"]), date.fromisoformat(value["to"])
            assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in value.values()) and lo <= hi
        else:
            assert isinstance(value, str)
            lo, hi = _parse_date(value)
        assert date(1900, 1, 1) <= lo and hi <= pub + timedelta(days=366), q["id"]
        phrase = q["answers"][0].lower()
        words = set(re.findall(r"[a-z]+", phrase))
        if words & set(WEEKDAYS):
            (wd,) = words & set(WEEKDAYS)
            assert lo == hi and lo.weekday() == WEEKDAYS.index(wd), q["id"]
            assert 0 < abs((lo - pub).days) <= 7 and lo != pub, q["id"]
            if "next" in words:
                assert lo > pub
        if phrase == "yesterday":
            assert value == (pub - timedelta(days=1)).isoformat()
        if phrase == "last week":
            monday = pub - timedelta(days=pub.weekday() + 7)
            assert value == {"from": monday.isoformat(), "to": (monday + timedelta(days=6)).isoformat()}
        if phrase == "earlier this month":
            assert value == {"from": pub.replace(day=1).isoformat(), "to": pub.isoformat()}
        if phrase == "over the summer":
            assert lo.month == 6 and lo.day == 1 and hi.month == 8 and hi.day == 31 and hi.year == lo.year
        if "next year" in phrase:
            assert lo.year == pub.year + 1


# --------------------------------------------------------------------------- near-duplicate pairs


def _copied_share(a: str, b: str, n: int = 5) -> float:
    """Share of the shorter text's word n-grams that also occur in the longer text."""
    wa, wb = a.lower().split(), b.lower().split()
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    grams = {tuple(short[i : i + n]) for i in range(len(short) - n + 1)}
    other = {tuple(long_[i : i + n]) for i in range(len(long_) - n + 1)}
    return len(grams & other) / len(grams)


def test_duplicate_pairs(pairs: list[dict[str, Any]]) -> None:
    assert len(pairs) >= 24
    labels = Counter(p["duplicate"] for p in pairs)
    assert labels[True] >= 12 and labels[False] >= 12
    assert len({p["id"] for p in pairs}) == len(pairs)
    for p in pairs:
        assert {"id", "a", "b", "duplicate", "why"} <= set(p)
        assert isinstance(p["duplicate"], bool) and p["why"]
        assert p["a"] != p["b"]
        for t in (p["a"], p["b"]):
            assert 150 <= len(t.split()) <= 450, p["id"]
        # the README's rule: a duplicate copies at least 80% of the shorter text
        share = _copied_share(p["a"], p["b"])
        assert (share >= 0.8) == p["duplicate"], (p["id"], round(share, 2))


def test_non_duplicates_include_the_hard_kinds(pairs: list[dict[str, Any]]) -> None:
    kinds = Counter(p.get("kind") for p in pairs if not p["duplicate"])
    for kind in ("same_event", "follow_up", "same_template", "brief"):
        assert kinds[kind] >= 2, kind
    # a follow-up reuses at least one whole paragraph of the first story
    for p in pairs:
        if p.get("kind") == "follow_up":
            paras = {x for x in p["a"].split("\n\n") if len(x.split()) >= 20}
            assert paras & set(p["b"].split("\n\n")), p["id"]
