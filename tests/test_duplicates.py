"""Near-duplicate stories (qa/duplicates.py): the same wire copy from several outlets is one
group; an answer cites one member and lists the others as also reported by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.duplicates import is_duplicate, signature
from qa.retriever import PassageFilter
from qa.service import QAService
from qa.settings import Settings
from qa.types import NewDocument

PAIRS = {row["id"]: row for row in map(json.loads, (
    Path(__file__).parents[1] / "eval" / "gold" / "news" / "duplicates.jsonl").read_text(
        encoding="utf-8").splitlines())}


def doc(text: str, outlet: str) -> NewDocument:
    title = text.splitlines()[0]
    return NewDocument(title, text, url=f"https://{outlet}.example/story", published="2023-05-02")


def test_every_labelled_pair_is_told_apart() -> None:
    for row in PAIRS.values():
        assert is_duplicate(signature(row["a"]), signature(row["b"])) == row["duplicate"], row["id"]


def test_a_trimmed_copy_is_a_duplicate_and_a_text_is_never_its_own_opposite() -> None:
    text = PAIRS["news-dup01"]["a"]
    paragraphs = text.split("\n\n")
    trimmed = "\n\n".join(paragraphs[: max(3, len(paragraphs) * 3 // 4)])
    assert is_duplicate(signature(text), signature(trimmed))
    assert is_duplicate(signature(text), signature(text))
    assert not is_duplicate(signature(text), signature("An unrelated short note."))
    assert not is_duplicate(signature(""), signature(""))


@pytest.fixture()
def service(tmp_path: Path) -> QAService:
    return QAService(Settings(data_dir=tmp_path))


def test_copies_are_grouped_and_answers_name_the_other_outlets(service: QAService) -> None:
    same = PAIRS["news-dup01"]
    other = next(r for r in PAIRS.values() if r["kind"] == "same_event")
    added = service.add_documents([doc(same["a"], "atlaswire"), doc(same["b"], "harborledger"),
                                   doc(other["a"], "valleycourier")])
    first, copy, unrelated = (r.document for r in added)
    store = service.corpus.store
    assert store.get_document(first.id).duplicate_of is None  # type: ignore[union-attr]
    assert store.get_document(copy.id).duplicate_of == first.id  # type: ignore[union-attr]
    assert store.get_document(unrelated.id).duplicate_of is None  # type: ignore[union-attr]

    answer = service.ask("How long were the scientists of the RV Calloway at sea?")
    assert answer.answer is not None and "24" in answer.answer
    cited = answer.citations[0].document_id
    assert cited in (first.id, copy.id)
    assert [s.document_id for s in answer.also_reported_by] == [
        copy.id if cited == first.id else first.id]
    # the same passage text is read once: no two passages of the answer say the same thing
    texts = [" ".join(p.text.split()) for p in answer.passages]
    assert len(texts) == len(set(texts))

    # the group outlives its first member
    assert service.delete_document(first.id)
    assert store.get_document(copy.id).duplicate_of is None  # type: ignore[union-attr]


def test_also_reported_by_lists_only_outlets_the_filter_admits(service: QAService) -> None:
    same = PAIRS["news-dup01"]
    early = NewDocument(same["a"].splitlines()[0], same["a"], url="https://atlaswire.example/story",
                        published="2023-05-02")
    late = NewDocument(same["b"].splitlines()[0], same["b"], url="https://harborledger.example/story",
                       published="2023-06-20")
    first, copy = (r.document for r in service.add_documents([early, late]))
    question = "How long were the scientists of the RV Calloway at sea?"
    unfiltered = service.ask(question)
    assert {unfiltered.citations[0].document_id, *(s.document_id for s in unfiltered.also_reported_by)} \
        == {first.id, copy.id}
    # the copy was published after the window asked about: not named as another outlet
    in_may = service.ask(question, where=PassageFilter(published_to="2023-05"))
    assert in_may.answer is not None and in_may.citations[0].document_id == first.id
    assert in_may.also_reported_by == []
    only_first = service.ask(question, where=PassageFilter(document_ids=[first.id]))
    assert only_first.citations[0].document_id == first.id and only_first.also_reported_by == []


def test_filter_admits_documents_as_the_index_does() -> None:
    window = PassageFilter(published_from="2023-05-01", published_to="2023-05")
    assert window.admits("a", "2023-05-31") and window.admits("a", "2023-05-01T09:00")
    assert not window.admits("a", "2023-06-01") and not window.admits("a", "2023-04-30")
    assert window.admits("a", None)  # undated: its date is unknown, not outside the window
    assert not PassageFilter(require_date=True).admits("a", None)
    assert not PassageFilter().admits("a", "2023-05-02", current=False)
    assert PassageFilter(include_superseded=True).admits("a", "2023-05-02", current=False)
    assert not PassageFilter(document_ids=["b"]).admits("a", "2023-05-02")


def test_a_new_version_of_a_story_is_a_version_not_a_duplicate(service: QAService) -> None:
    text = PAIRS["news-dup01"]["a"]
    old = service.add_documents([doc(text, "atlaswire")])[0].document
    new = service.add_documents([doc(text.replace("38", "41"), "atlaswire")])[0]
    assert new.replaced == old.id and new.document.duplicate_of is None


def test_detection_can_be_switched_off(tmp_path: Path) -> None:
    service = QAService(Settings(data_dir=tmp_path, detect_duplicates=False))
    same = PAIRS["news-dup01"]
    added = service.add_documents([doc(same["a"], "a"), doc(same["b"], "b")])
    assert all(r.document.duplicate_of is None for r in added)
