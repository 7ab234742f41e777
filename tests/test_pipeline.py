"""The question pipeline's stages on inputs built by hand: no database, no models."""

from __future__ import annotations

import pytest

from qa.compose import Compose, Draft
from qa.policy import AnswerPolicy
from qa.question import Question, QuestionError, validate_question
from qa.retriever import PassageFilter
from qa.storage.documents import DocumentLayout, DocumentRecord
from qa.types import AnswerSpan, ReaderResult, RetrievedPassage

TEXT = "Leaders met on Monday. They met in Ankara, Turkey. Rain fell all week."
TURKEY = TEXT.index("Turkey")
MONDAY = TEXT.index("Monday")
SENTENCES = ((0, 22), (23, 50), (51, len(TEXT)))


def passage(pid: int = 7, doc: str = "d1", similarity: float | None = 0.6) -> RetrievedPassage:
    return RetrievedPassage(pid, doc, "Summit", 0, len(TEXT), TEXT, 1.0, SENTENCES,
                            similarity=similarity, published="2024-05-06")


def record(doc_id: str, superseded_by: str | None = None,
           published: str | None = "2024-05-07") -> DocumentRecord:
    return DocumentRecord(doc_id, f"Copy {doc_id}", f"https://x/{doc_id}", published, TEXT,
                          "hash", "2024-05-07", 1, superseded_by=superseded_by)


class Documents:
    """What Compose reads of a corpus, from dicts: layouts and near-duplicates."""

    def __init__(self, layouts: dict[str, DocumentLayout],
                 duplicates: dict[str, list[DocumentRecord]]):
        self._layouts, self._duplicates = layouts, duplicates
        self.layout_calls: list[list[str]] = []

    def layouts(self, ids: list[str]) -> dict[str, DocumentLayout]:
        self.layout_calls.append(sorted(ids))
        return {i: self._layouts[i] for i in ids if i in self._layouts}

    def duplicates(self, document_id: str) -> list[DocumentRecord]:
        return self._duplicates.get(document_id, [])


def span(start: int, end: int, evidence: tuple[int, int]) -> AnswerSpan:
    return AnswerSpan("d1", 7, start, end, evidence[0], evidence[1], 4.0)


def test_compose_answers_with_a_citation_its_page_line_and_date() -> None:
    layout = DocumentLayout(pages=((0, 30), (30, len(TEXT))),
                            blocks=((0, len(TEXT), "body", None),),
                            dates=((MONDAY, MONDAY + 6, "2024-05-06", None, None),))
    documents = Documents({"d1": layout}, {"d1": [record("d2"), record("d3", "d4"),
                                                  record("d5", published="2023-01-01")]})
    compose = Compose(AnswerPolicy(threshold=0.5, min_similarity=0.1), documents)
    result = ReaderResult(span(TURKEY, TURKEY + 6, SENTENCES[1]), 0.8, 0.2)
    answer = compose.run(Draft("Where did they meet?", "Where did they meet?", result,
                               [passage()], timings_ms={"read": 1.234},
                               where=PassageFilter(published_from="2024-01-01")))
    assert answer.answer == "Turkey" and answer.confidence == 0.8
    (cited,) = answer.citations
    assert cited.quote == "They met in Ankara, Turkey."
    assert (cited.start, cited.end, cited.answer_start) == (23, 50, TURKEY)
    assert cited.page == 1 and cited.block == "body"  # 23 < 30: the first page
    assert answer.as_of == "2024-05-06" and answer.timings_ms == {"read": 1.23}
    assert answer.date is None  # "Monday" is not in the answer's words
    # d3 was superseded, d5 is outside the filter's dates
    assert [s.document_id for s in answer.also_reported_by] == ["d2"]
    assert documents.layout_calls == [["d1"]]

    on_monday = ReaderResult(span(MONDAY, MONDAY + 6, SENTENCES[0]), 0.9, 0.1)
    dated = compose.run(Draft("When?", "When?", on_monday, [passage()]))
    assert dated.answer == "Monday" and dated.date is not None
    assert (dated.date.text, dated.date.value) == ("Monday", "2024-05-06")


def test_compose_abstains_below_the_threshold_and_cites_the_closest_sentences() -> None:
    compose = Compose(AnswerPolicy(threshold=0.5, min_similarity=0.1), Documents({}, {}))
    weak = ReaderResult(span(TURKEY, TURKEY + 6, SENTENCES[1]), 0.49, 0.51)
    # two passages with the same words: their citations are one
    answer = compose.run(Draft("Where did it rain?", "Where did it rain all week?", weak,
                               [passage(7), passage(8)]))
    assert answer.answer is None and answer.as_of is None
    assert answer.no_answer_probability == 0.51
    assert [c.quote for c in answer.citations] == ["Rain fell all week."]
    assert answer.citations[0].answer_start is None
    assert answer.also_reported_by == [] and answer.date is None
    nothing = compose.run(Draft("Where?", "Where?", ReaderResult(None, 0.0, 1.0), [],
                                where=PassageFilter(document_ids=["x"])))
    assert nothing.citations == [] and nothing.notice is not None
    assert "among the 1 documents named" in nothing.notice


def test_policy_screens_off_topic_reads_and_applies_the_threshold() -> None:
    policy = AnswerPolicy(threshold=0.5, min_similarity=0.1)
    result = ReaderResult(span(TURKEY, TURKEY + 6, SENTENCES[1]), 0.9, 0.1, {7: 2.0})
    assert policy.screen(result, [passage(similarity=0.3)]) is result
    screened = policy.screen(result, [passage(similarity=0.05), passage(8, similarity=None)])
    assert screened.best is None and screened.confidence == 0.0
    assert screened.passage_scores == {7: 2.0}  # still re-ranks what was read
    assert policy.screen(result, [passage(similarity=None)]) is result  # nothing to judge by
    assert policy.answers(result) and not policy.answers(screened)
    assert policy.confident(0.5) and not policy.confident(0.4999)


def test_a_question_is_validated_once() -> None:
    question = validate_question("  Where\u200b did   they meet?\x00 ", 100)
    assert isinstance(question, Question) and question == "Where did they meet?"
    # handed on, it is taken as it is: not cleaned nor measured again
    assert validate_question(question, 5) is question
    with pytest.raises(QuestionError, match="^question is empty$"):
        validate_question(" \u200b ", 100)
    with pytest.raises(QuestionError, match="^question is 6 characters; the limit is 5$"):
        validate_question("abcdef", 5)
