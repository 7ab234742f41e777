"""Versions of a story: new text under the same identity (key, URL or file path) supersedes the
old version, which is kept, left out of answers and citable on request."""

from __future__ import annotations

from pathlib import Path

import pytest
from contracts import check_offsets
from fastapi.testclient import TestClient

from qa.loaders import load_paths
from qa.retriever import PassageFilter
from qa.service import QAService
from qa.settings import Settings
from qa.types import NewDocument

URL = "https://harborledger.example/2023/09/stadium-deal"
BEFORE = ("The city council approved a $48 million loan for the new harbour stadium on Monday, "
          "council members said. The vote was 7 to 2. Mayor Ellen Park called the stadium a "
          "turning point for the waterfront district.")
AFTER = BEFORE.replace("$48 million", "$52 million")
QUESTION = "How much money did the council approve for the stadium?"


@pytest.fixture()
def service(tmp_path: Path) -> QAService:
    return QAService(Settings(data_dir=tmp_path / "data"))


def add(service: QAService, text: str, published: str, **kw: str) -> tuple[str, str | None]:
    result = service.add_documents([NewDocument("Council backs stadium loan", text,
                                                published=published, **kw)])[0]
    assert result.created
    return result.document.id, result.replaced


def test_an_edited_article_under_the_same_url_supersedes_the_old_one(service: QAService) -> None:
    old, replaced = add(service, BEFORE, "2023-09-04", url=URL)
    assert replaced is None
    new, replaced = add(service, AFTER, "2023-09-05", url=URL)
    assert replaced == old
    store = service.corpus.store
    old_doc, new_doc = store.get_document(old), store.get_document(new)
    assert old_doc is not None and new_doc is not None
    assert old_doc.superseded_by == new and not old_doc.current and new_doc.current
    assert [d.id for d in service.corpus.versions(old_doc)] == [old, new]

    answer = service.ask(QUESTION)
    assert answer.answer is not None and "52 million" in answer.answer
    assert {c.document_id for c in answer.citations} == {new}
    assert answer.citations[0].published == "2023-09-05"
    assert all(p.document_id == new for p in answer.passages)  # the old one is not even shown

    # citable on request: by naming it, or by asking for superseded versions too
    named = service.ask(QUESTION, where=PassageFilter(document_ids=[old]))
    assert named.answer is not None and "48 million" in named.answer
    both = service.ask(QUESTION, top_k=10, where=PassageFilter(include_superseded=True))
    assert {p.document_id for p in both.passages} == {old, new}


def test_deleting_the_current_version_brings_back_the_previous(service: QAService) -> None:
    old, _ = add(service, BEFORE, "2023-09-04", key="stadium-loan")
    new, _ = add(service, AFTER, "2023-09-05", key="stadium-loan")
    assert service.delete_document(new)
    restored = service.corpus.store.get_document(old)
    assert restored is not None and restored.current
    answer = service.ask(QUESTION)
    assert answer.answer is not None and "48 million" in answer.answer


def test_a_reverted_edit_makes_the_old_text_current_again(service: QAService) -> None:
    old, _ = add(service, BEFORE, "2023-09-04", url=URL)
    new, _ = add(service, AFTER, "2023-09-05", url=URL)
    again = service.add_documents([NewDocument("Council backs stadium loan", BEFORE, url=URL)])[0]
    assert not again.created and again.document.id == old and again.document.current
    newer = service.corpus.store.get_document(new)
    assert newer is not None and newer.superseded_by == old
    answer = service.ask(QUESTION)
    assert answer.answer is not None and "48 million" in answer.answer


def test_different_stories_never_supersede_each_other(service: QAService) -> None:
    first, _ = add(service, BEFORE, "2023-09-04", url=URL)
    other, replaced = add(service, AFTER, "2023-09-05", url=URL + "-analysis")
    assert replaced is None
    docs = {d.id: d for d in service.corpus.store.list_documents()}
    assert docs[first].current and docs[other].current
    unkeyed = service.add_documents([NewDocument("Stadium, again", AFTER + " More later.")])[0]
    assert unkeyed.replaced is None and unkeyed.document.story_key is None


def test_a_local_file_ingested_again_after_an_edit_is_a_new_version(tmp_path: Path,
                                                                   service: QAService) -> None:
    article = tmp_path / "stadium.txt"
    article.write_text("Council backs stadium loan\n\n" + BEFORE, encoding="utf-8")
    first = service.add_documents(load_paths([article]).documents)[0]
    assert first.document.story_key == str(article.resolve())
    article.write_text("Council backs stadium loan\n\n" + AFTER, encoding="utf-8")
    second = service.add_documents(load_paths([article]).documents)[0]
    assert second.created and second.replaced == first.document.id


def test_the_api_takes_a_key_and_shows_the_versions(api_env: Path) -> None:
    from api.app import create_app

    with TestClient(create_app()) as client:
        body = {"title": "Council backs stadium loan", "published": "2023-09-04",
                "key": "ledger-stadium", "text": BEFORE}
        first = client.post("/v1/documents", json=body)
        assert first.status_code == 201 and first.json()["replaced"] is None
        second = client.post("/v1/documents", json={**body, "text": AFTER,
                                                    "published": "2023-09-05"})
        assert second.status_code == 201 and second.json()["replaced"] == first.json()["id"]
        shown = client.get(f"/v1/documents/{first.json()['id']}").json()
        assert shown["current"] is False and shown["superseded_by"] == second.json()["id"]
        assert [(v["id"], v["current"]) for v in shown["versions"]] == [
            (first.json()["id"], False), (second.json()["id"], True)]
        asked = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert "52 million" in asked["answer"] and asked["citations"][0]["published"] == "2023-09-05"
        old = client.post("/v1/ask", json={"question": QUESTION, "include_superseded": True,
                                           "document_ids": [first.json()["id"]]}).json()
        assert "48 million" in old["answer"]


# ------------------------------------------------------------------ outlets that disagree
GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold" / "stories" / "articles.jsonl"


FIRE_QUESTION = "How many acres has the Cedar Ridge fire burned?"


def fire_articles() -> list[dict]:
    """The Cedar Ridge fire's first report (6,500 acres) and its last update (8,900)."""
    import json

    return [a for a in map(json.loads, GOLD.read_text(encoding="utf-8").splitlines())
            if "cedar-ridge-fire-evacuations" in a["key"] or "85-percent" in a["key"]]


def test_a_newer_report_wins_and_the_older_value_is_named(tmp_path: Path,
                                                          sample_path: Path) -> None:
    from eval.stories import as_document

    service = QAService(Settings(data_dir=tmp_path / "data"))
    service.add_documents(load_paths([sample_path]).documents)
    added = service.add_documents([as_document(a) for a in fire_articles()])
    first, update = (r.document for r in added)
    assert (first.published, update.published) == ("2023-08-10", "2023-08-14")
    answer = service.ask(FIRE_QUESTION)
    assert answer.answer == "8,900" and answer.as_of == "2023-08-14"
    assert answer.citations[0].document_id == update.id
    assert answer.disagreement is not None
    (older,) = answer.disagreement
    assert older.answer == "6,500" and older.published == "2023-08-10"
    assert older.citations[0].document_id == first.id and not older.superseded
    doc = service.corpus.store.get_document(first.id)
    assert doc is not None
    c = older.citations[0]
    assert doc.text[c.start:c.end] == c.quote and doc.text[c.answer_start:c.answer_end] == "6,500"

    off = QAService(Settings(data_dir=tmp_path / "data", compare_sources=False))
    assert off.ask(FIRE_QUESTION).disagreement is None


def test_a_newer_report_ranked_below_those_read_is_read_too(tmp_path: Path) -> None:
    import json

    from eval.stories import as_document

    fire = [as_document(a) for a in map(json.loads, GOLD.read_text(encoding="utf-8").splitlines())
            if "cedar-ridge" in a["key"]]
    question = "What is the containment of the Cedar Ridge fire?"
    # over these four articles alone the update's passage is given 0.25 (0.32 among all the
    # stories): the bar is set under it
    service = QAService(Settings(data_dir=tmp_path / "data", newer_report_probability=0.2))
    service.add_documents(fire)
    passages, read, _ = service.read(question, 10)
    latest = next(p for p in passages if p.published == "2023-08-14")
    assert latest.passage_id not in read  # the last update is not among the passages read
    answer = service.ask(question)
    assert answer.answer == "85%" and answer.as_of == "2023-08-14"
    assert answer.disagreement is not None and "40%" in [d.answer for d in answer.disagreement]
    check_offsets(service, answer)
    returned = {p.passage_id: p for p in answer.passages}
    cited = answer.citations[0]
    assert returned[cited.passage_id].start <= cited.start < cited.end <= returned[cited.passage_id].end

    # read widened, the update's passage is returned as read: the answer is still its text
    wide = QAService(Settings(data_dir=tmp_path / "data", newer_report_probability=0.2,
                              read_expand_sentences=2))
    widened = wide.ask(question)
    check_offsets(wide, widened)
    assert {c.passage_id for c in widened.citations} <= {p.passage_id for p in widened.passages}

    off = QAService(Settings(data_dir=tmp_path / "data", newer_report_probability=1.0))
    assert off.ask(question).answer != "85%"


def test_date_filters_keep_undated_articles_unless_a_date_is_required(service: QAService) -> None:
    dated, _ = add(service, BEFORE, "2023-09-04")
    undated = service.add_documents([NewDocument("Stadium loan, undated", AFTER)])[0].document.id
    window = PassageFilter(published_from="2023-09-01", published_to="2023-09-30")
    both = service.ask(QUESTION, top_k=10, where=window)
    assert {p.document_id for p in both.passages} == {dated, undated}
    strict = service.ask(QUESTION, top_k=10, where=PassageFilter(
        published_from="2023-09-01", published_to="2023-09-30", require_date=True))
    assert {p.document_id for p in strict.passages} == {dated}
    nothing = service.ask(QUESTION, where=PassageFilter(published_to="2001-01-01",
                                                         require_date=True))
    assert nothing.answer is None and nothing.passages == []
    assert nothing.notice == ("No article matches the filter (published on or before "
                              "2001-01-01).")
