"""Checks of the hand-made gold Q&A data in eval/gold/: the sample article's SQuAD and CoQA
files, and the "stories that change" set (eval/gold/stories/)."""

from __future__ import annotations

import difflib
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from eval.metrics import exact_match, load_squad_golds, squad_scores  # noqa: E402

ROOT = Path(__file__).parents[1]
ARTICLE = ROOT / "sample" / "hamas-leader-met-iran-commander.txt"
SQUAD_GOLD = ROOT / "eval" / "gold" / "sample-squad-v2.json"
COQA_GOLD = ROOT / "eval" / "gold" / "sample-coqa.json"
STORIES = ROOT / "eval" / "gold" / "stories"


@pytest.fixture(scope="module")
def article() -> str:
    return ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def squad() -> dict[str, Any]:
    return dict(json.loads(SQUAD_GOLD.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def coqa() -> dict[str, Any]:
    return dict(json.loads(COQA_GOLD.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def qas(squad: dict[str, Any]) -> list[dict[str, Any]]:
    return [qa for art in squad["data"] for par in art["paragraphs"] for qa in par["qas"]]


# --------------------------------------------------------------------------- SQuAD v2.0 file


def test_squad_structure_and_context(squad: dict[str, Any], article: str) -> None:
    assert squad["version"] == "v2.0"
    assert len(squad["data"]) == 1
    paragraphs = squad["data"][0]["paragraphs"]
    assert len(paragraphs) == 1
    assert paragraphs[0]["context"] == article
    assert squad["data"][0]["title"]


def test_squad_answer_offsets(squad: dict[str, Any]) -> None:
    for par in squad["data"][0]["paragraphs"]:
        context = par["context"]
        for qa in par["qas"]:
            for ans in qa["answers"]:
                start = ans["answer_start"]
                assert context[start : start + len(ans["text"])] == ans["text"], qa["id"]


def test_squad_counts_and_ids(qas: list[dict[str, Any]]) -> None:
    ids = [qa["id"] for qa in qas]
    assert len(ids) == len(set(ids))
    assert len(qas) >= 40
    impossible = [qa for qa in qas if qa["is_impossible"]]
    assert len(impossible) >= 8
    for qa in qas:
        assert qa["question"].strip().endswith("?")
        if qa["is_impossible"]:
            assert qa["answers"] == []
        else:
            assert 1 <= len(qa["answers"]) <= 3, qa["id"]
            assert all(a["text"].strip() == a["text"] and a["text"] for a in qa["answers"])


def test_squad_question_types(qas: list[dict[str, Any]]) -> None:
    starts = [qa["question"].lower() for qa in qas]
    for wh in ("who ", "what ", "where ", "when ", "why ", "how many ", "which "):
        assert any(q.startswith(wh) for q in starts), wh


def test_squad_key_questions(qas: list[dict[str, Any]]) -> None:
    by_question = {qa["question"]: [a["text"] for a in qa["answers"]] for qa in qas}
    assert "Turkey" in by_question["Where did they meet?"]
    assert {"Saudi daily Al-Hayat", "Al-Hayat"} <= set(by_question["Who reported the meeting?"])
    assert any("financial and military aid" in a for a in by_question["What did they talk about?"])


def test_squad_gold_loads_and_scores_itself(qas: list[dict[str, Any]]) -> None:
    golds = load_squad_golds(SQUAD_GOLD)
    assert set(golds) == {qa["id"] for qa in qas}
    perfect = {qid: (answers[0] if answers else "") for qid, answers in golds.items()}
    scores = squad_scores(golds, perfect)
    assert scores["exact"] == pytest.approx(100.0)
    assert scores["NoAns_total"] == sum(qa["is_impossible"] for qa in qas)


# --------------------------------------------------------------------------- CoQA file


def test_coqa_structure(coqa: dict[str, Any], article: str) -> None:
    assert coqa["version"] == "1.0"
    dialogs = coqa["data"]
    assert len(dialogs) >= 3
    assert len({d["id"] for d in dialogs}) == len(dialogs)
    for d in dialogs:
        assert {"id", "source", "filename", "story", "name", "questions", "answers"} <= set(d)
        assert d["story"] == article
        assert 3 <= len(d["questions"]) <= 5
        assert len(d["answers"]) == len(d["questions"])
        turns = list(range(1, len(d["questions"]) + 1))
        assert [q["turn_id"] for q in d["questions"]] == turns
        assert [a["turn_id"] for a in d["answers"]] == turns


def test_coqa_spans(coqa: dict[str, Any]) -> None:
    for d in coqa["data"]:
        story = d["story"]
        for ans in d["answers"]:
            if ans["input_text"] == "unknown":
                # CoQA's convention for unanswerable turns
                assert (ans["span_start"], ans["span_end"]) == (-1, -1)
                assert ans["span_text"] == "unknown"
                continue
            assert 0 <= ans["span_start"] < ans["span_end"] <= len(story)
            assert story[ans["span_start"] : ans["span_end"]] == ans["span_text"]
            assert ans["input_text"] in story
            assert ans["input_text"] in ans["span_text"]


def test_coqa_has_context_dependent_follow_ups(coqa: dict[str, Any]) -> None:
    follow_ups = [
        q["input_text"].lower() for d in coqa["data"] for q in d["questions"] if q["turn_id"] > 1
    ]
    pronouns = (" he ", " his ", " him ", " it ", " they ", " that ", " there")
    assert any(any(p in f" {q.rstrip('?')} " for p in pronouns) for q in follow_ups)
    assert any(len(q.split()) == 1 for q in follow_ups)  # elliptical, e.g. "Where?"


# --------------------------------------------------------------------------- stories that change

ARTICLE_FIELDS = {"key", "url", "title", "outlet", "published", "text"}
QUESTION_FIELDS = {"id", "story", "question", "kind", "answers", "superseded", "current_source"}
KINDS = {"changed", "conflict", "agreed", "single", "unanswerable"}
MINIMUMS = {"changed": 14, "conflict": 8, "agreed": 14, "single": 10, "unanswerable": 8}
MONTHS = {"Jan.": 1, "Feb.": 2, "March": 3, "April": 4, "May": 5, "June": 6, "July": 7, "Aug.": 8}
MONTHS |= {"Sept.": 9, "Oct.": 10, "Nov.": 11, "Dec.": 12}
# "ATHENS, Aug. 10 — ", "PORT HALDEN, Sept. 14 — "
DATELINE = re.compile(r"^[A-Z][A-Z .'-]+, (?P<month>[A-Z][a-z]+\.?) (?P<day>\d{1,2}) — \S")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CORRECTION = "Correction: "


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{path.name}:{lineno}: blank line"
        row = json.loads(line)
        assert isinstance(row, dict), f"{path.name}:{lineno}"
        rows.append(row)
    return rows


def _iso(value: object) -> date:
    assert isinstance(value, str) and ISO_DATE.match(value), value
    return date.fromisoformat(value)


@pytest.fixture(scope="module")
def story_articles() -> list[dict[str, Any]]:
    return _jsonl(STORIES / "articles.jsonl")


@pytest.fixture(scope="module")
def by_key(story_articles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for a in story_articles}


@pytest.fixture(scope="module")
def story_questions() -> list[dict[str, Any]]:
    return _jsonl(STORIES / "questions.jsonl")


@pytest.fixture(scope="module")
def stories(story_questions: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Story name -> keys of its articles (those its questions cite)."""
    found: dict[str, set[str]] = {}
    for q in story_questions:
        found.setdefault(q["story"], set()).update(q["current_source"])
    return found


def _check_article(a: dict[str, Any]) -> None:
    where = a.get("key")
    assert set(a) == ARTICLE_FIELDS, where
    assert all(isinstance(a[f], str) and a[f].strip() == a[f] and a[f] for f in ARTICLE_FIELDS)
    assert a["key"] == a["url"] and a["url"].startswith("https://"), where
    published = _iso(a["published"])
    paragraphs = a["text"].split("\n\n")
    assert all(p.strip() == p and p for p in paragraphs), where
    if paragraphs[0].startswith(CORRECTION):
        paragraphs = paragraphs[1:]
    m = DATELINE.match(paragraphs[0])
    assert m, f"{where}: no dateline at the start of the body"
    dateline = date(published.year, MONTHS[m["month"]], int(m["day"]))
    # the dateline is the day of the events; a correction may come out a few days later
    assert published - timedelta(days=3) <= dateline <= published, where
    assert 150 <= len(a["text"].split()) <= 400, where
    assert a["text"].count('"') % 2 == 0, f"{where}: unbalanced quotes"


def test_story_articles_fields_and_datelines(story_articles: list[dict[str, Any]]) -> None:
    assert len(story_articles) >= 14
    for a in story_articles:
        _check_article(a)
    keys = [a["key"] for a in story_articles]
    assert len(keys) == len(set(keys)), "a correction or update must get its own url"
    assert len({a["outlet"] for a in story_articles}) >= 4


def test_story_articles_belong_to_one_story_each(
    story_articles: list[dict[str, Any]], stories: dict[str, set[str]]
) -> None:
    assert len(stories) >= 5
    for a in story_articles:
        holders = [name for name, keys in stories.items() if a["key"] in keys]
        assert len(holders) == 1, (a["key"], holders)
    for name, keys in stories.items():
        assert len(keys) >= 2, name  # every story evolves


def test_story_corrections_follow_an_earlier_version(
    story_articles: list[dict[str, Any]], stories: dict[str, set[str]]
) -> None:
    corrections = [a for a in story_articles if a["text"].startswith(CORRECTION)]
    assert corrections
    for c in corrections:
        story = next(keys for keys in stories.values() if c["key"] in keys)
        earlier = [
            a
            for a in story_articles
            if a["key"] in story
            and a["key"] != c["key"]
            and a["outlet"] == c["outlet"]
            and a["published"] < c["published"]
        ]
        assert earlier, c["key"]


def _check_question(q: dict[str, Any], by_key: dict[str, dict[str, Any]]) -> None:
    qid = q.get("id")
    assert QUESTION_FIELDS <= set(q) <= QUESTION_FIELDS | {"either", "published_to"}, qid
    assert q["kind"] in KINDS, qid
    assert isinstance(q["question"], str) and q["question"].strip().endswith("?"), qid
    for field in ("answers", "superseded", "current_source"):
        assert isinstance(q[field], list), (qid, field)
        assert all(isinstance(s, str) and s and s.strip() == s for s in q[field]), (qid, field)
        assert len(q[field]) == len(set(q[field])), (qid, field)
    assert q.get("either", False) is (q["kind"] == "conflict"), qid
    if q["kind"] == "unanswerable":
        assert q["answers"] == [] and q["superseded"] == [] and q["current_source"] == [], qid
        assert "published_to" not in q, qid
        return
    assert q["answers"] and q["current_source"], qid
    assert all(k in by_key for k in q["current_source"]), qid
    texts = [by_key[k]["text"] for k in q["current_source"]]
    for ans in q["answers"]:
        assert any(ans in t for t in texts), (qid, ans)
    for key, text in zip(q["current_source"], texts, strict=True):
        assert any(ans in text for ans in q["answers"]), (qid, key)
    if q["kind"] in ("changed", "conflict"):
        assert q["superseded"], qid
    else:
        assert q["superseded"] == [], qid
    if q["kind"] == "single":
        assert len(q["current_source"]) == 1, qid
    if q["kind"] == "agreed":
        assert len(q["current_source"]) >= 2, qid
    # an old or competing value must not count as a right answer
    for old in q["superseded"]:
        assert not any(exact_match(old, ans) for ans in q["answers"]), (qid, old)


def test_story_questions_format(
    story_questions: list[dict[str, Any]], by_key: dict[str, dict[str, Any]]
) -> None:
    ids = [q["id"] for q in story_questions]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"story-q\d{2,3}", i) for i in ids)
    for q in story_questions:
        _check_question(q, by_key)


def test_story_superseded_values_come_from_other_articles(
    story_questions: list[dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
    stories: dict[str, set[str]],
) -> None:
    for q in story_questions:
        if q["kind"] not in ("changed", "conflict"):
            continue
        current = [by_key[k] for k in q["current_source"]]
        others = [by_key[k] for k in stories[q["story"]] if k not in q["current_source"]]
        newest = max(a["published"] for a in current)
        outlets = {a["outlet"] for a in current}
        for old in q["superseded"]:
            if q["kind"] == "changed":
                holders = [a for a in others if old in a["text"] and a["published"] <= newest]
                assert holders, (q["id"], old)
                assert min(a["published"] for a in holders) < newest, (q["id"], old)
            else:  # another outlet says otherwise
                assert any(old in a["text"] and a["outlet"] not in outlets for a in others), (q["id"], old)


def test_story_time_scoped_questions(
    story_questions: list[dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
    stories: dict[str, set[str]],
) -> None:
    scoped = [q for q in story_questions if "published_to" in q]
    assert len(scoped) >= 4
    for q in scoped:
        cutoff = _iso(q["published_to"])
        assert q["kind"] in ("single", "agreed") and q["superseded"] == [], q["id"]
        assert all(_iso(by_key[k]["published"]) <= cutoff for k in q["current_source"]), q["id"]
        # the scope leaves out a later article of the story, else it would not be time-scoped
        assert any(_iso(by_key[k]["published"]) > cutoff for k in stories[q["story"]]), q["id"]
        # and that later article holds the newer value: some question of the story has this
        # answer as superseded
        assert any(
            set(q["answers"]) & set(o["superseded"])
            for o in story_questions
            if o["story"] == q["story"] and o["kind"] == "changed"
        ), q["id"]


def test_story_question_counts_and_coverage(story_questions: list[dict[str, Any]]) -> None:
    assert len(story_questions) >= 64
    for kind, minimum in MINIMUMS.items():
        assert sum(q["kind"] == kind for q in story_questions) >= minimum, kind
    starts = [q["question"].lower() for q in story_questions]
    for wh in ("who ", "what ", "where ", "when ", "how many "):
        assert any(s.startswith(wh) for s in starts), wh
    assert len({q["question"] for q in story_questions}) == len(story_questions)


def test_story_gold_answers_score_and_stale_answers_do_not(
    story_questions: list[dict[str, Any]],
) -> None:
    golds = {q["id"]: q["answers"] for q in story_questions}
    perfect = {q["id"]: (q["answers"][0] if q["answers"] else "") for q in story_questions}
    assert squad_scores(golds, perfect)["exact"] == pytest.approx(100.0)
    changed = [q for q in story_questions if q["kind"] == "changed"]
    stale = {q["id"]: q["superseded"][0] for q in changed}
    assert squad_scores({q["id"]: q["answers"] for q in changed}, stale)["exact"] == 0.0


def test_story_edits_before_and_after(story_questions: list[dict[str, Any]]) -> None:
    before = json.loads((STORIES / "edits" / "before.json").read_text(encoding="utf-8"))
    after = json.loads((STORIES / "edits" / "after.json").read_text(encoding="utf-8"))
    for doc in (before, after):
        _check_article(doc)
    assert before["key"] == after["key"] and before["url"] == after["url"]
    assert before["title"] == after["title"] and before["outlet"] == after["outlet"]
    assert before["published"] < after["published"]
    assert before["text"] != after["text"]
    ops = difflib.SequenceMatcher(None, before["text"], after["text"], autojunk=False)
    changes = [op for op in ops.get_opcodes() if op[0] != "equal"]
    assert 1 <= len(changes) <= 3
    assert sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in changes) <= 10

    questions = _jsonl(STORIES / "edits" / "questions.jsonl")
    assert 3 <= len(questions) <= 5
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {q["id"] for q in story_questions}
    docs = {after["key"]: after}
    for q in questions:
        _check_question(q, docs)
        assert q["current_source"] in ([], [after["key"]]), q["id"]
        for old in q["superseded"]:
            assert old in before["text"] and old not in after["text"], (q["id"], old)
        if q["kind"] == "changed":
            assert all(ans not in before["text"] for ans in q["answers"]), q["id"]
    assert any(q["kind"] == "changed" for q in questions)
