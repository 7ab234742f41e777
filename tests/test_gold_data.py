"""Checks of the hand-made gold Q&A data for the sample article (eval/gold/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.metrics import load_squad_golds, squad_scores  # noqa: E402

ROOT = Path(__file__).parents[1]
ARTICLE = ROOT / "sample" / "hamas-leader-met-iran-commander.txt"
SQUAD_GOLD = ROOT / "eval" / "gold" / "sample-squad-v2.json"
COQA_GOLD = ROOT / "eval" / "gold" / "sample-coqa.json"


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
