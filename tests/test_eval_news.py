"""`qa eval news` end to end on a small copy of the gold set: the extra labelled pages count
in the line typing only; the articles are ingested and their questions asked."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from eval.news import cmd_news
from eval.news import read_jsonl as _rows

NEWS = Path(__file__).parents[1] / "eval" / "gold" / "news"


@pytest.fixture()
def small_set(tmp_path: Path) -> Path:
    """The first tuning article with its labels and questions, the pages, and the pairs."""
    article = next(a for a in _rows(NEWS / "articles.jsonl") if a["split"] == "tuning")
    key = article["key"]
    (tmp_path / "articles.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    for name in ("labels.jsonl", "questions.jsonl"):
        rows = [r for r in _rows(NEWS / name) if r["key"] == key]
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    shutil.copy(NEWS / "pages.jsonl", tmp_path / "pages.jsonl")
    shutil.copy(NEWS / "duplicates.jsonl", tmp_path / "duplicates.jsonl")
    return tmp_path


def test_eval_news_types_the_pages_and_answers_the_articles(small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "news.json"
    args = argparse.Namespace(folder=small_set, split="tuning", flat=False, blocks_only=False,
                              out=out)
    assert cmd_news(args) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    labelled = len(_rows(small_set / "labels.jsonl")[0]["lines"]) + sum(
        len(p["lines"]) for p in _rows(small_set / "pages.jsonl"))
    kinds = result["blocks"]
    assert sum(v["support"] for k, v in kinds.items() if k != "not_indexed") == labelled
    questions = len(_rows(small_set / "questions.jsonl"))
    assert questions > 0 and result["answers"]["corpus"]["questions"] == questions
