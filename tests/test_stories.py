"""Comparing what sources say (qa/stories.py) without models: values that agree loosely,
correction notices, and which answer wins when reports conflict."""

from __future__ import annotations

import pytest

from qa.dates import DateMention, resolve_dates
from qa.stories import (
    SLOT_FEATURES,
    Source,
    compare,
    frame_words,
    is_correction,
    question_names,
    same_value,
    shape,
    slot_features,
)
from qa.types import AnswerSpan, Candidate, RetrievedPassage


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Istanbul", "Dolmabahce Palace in Istanbul", True),
    ("in Turkey", "Turkey", True),
    ("Dolmabahçe Palace", "the Dolmabahce palace", True),
    ("3,200", "4,100", False),
    ("3,200 people", "3200", True),
    ("$48 million", "48 million dollars", True),
    ("$48 million", "$52 million", False),
    ("Ankara", "Istanbul", False),
    ("three hours", "four hours", False),
    ("85%", "85 percent", True),
    ("late Tuesday", "Tuesday night", True),
    ("Tuesday", "Wednesday", False),
    ("Oct. 16, 2023", "16 October", True),
    ("March 2024", "January 2024", False),
    ("10:40 p.m.", "10:40 pm", True),
    ("9 a.m.", "10 a.m.", False),
    ("Dec. 22", "Thursday morning", False),
    ("they may leave", "May 3", False),
    ("early March", "March 2024", True),
    # a month, a weekday or a year inside something else is not a date
    ("Theresa May", "Brian May", False),
    ("June Carter", "June 5", False),
    ("the Sunday Times", "the Sunday Telegraph", False),
    ("$5 million in 2023", "$7 million in 2023", False),
    ("3,200 acres by Tuesday", "4,100 acres by Tuesday", False),
])
def test_values_agree_loosely_but_not_across_numbers_places_or_dates(a: str, b: str, same: bool) -> None:
    assert same_value(a, b) is same
    assert same_value(b, a) is same


def test_correction_notices_are_recognised_at_the_head_only() -> None:
    assert is_correction("Correction: An earlier version of this article said Ankara.\n\nATHENS")
    assert is_correction("ATHENS — This article has been updated to give the venue.")
    assert is_correction("UPDATED Aug. 14\nThe fire...")
    assert not is_correction("The council updated its figures on Monday, officials said.")
    assert not is_correction("x" * 500 + "\nCorrection: too far down to be a notice")


def passage(pid: int, doc: str, text: str, published: str | None) -> RetrievedPassage:
    return RetrievedPassage(pid, doc, f"title {doc}", 0, len(text), text, 1.0, published=published)


def candidate(p: RetrievedPassage, value: str, confidence: float) -> Candidate:
    start = p.text.index(value)
    return Candidate(AnswerSpan(p.document_id, p.passage_id, start, start + len(value), 0,
                                len(p.text), 1.0), confidence)


FIRST = passage(1, "first", "Officials said 3,200 people were evacuated.", "2023-08-10")
UPDATE = passage(2, "update", "Officials revised the number evacuated to 4,100.", "2023-08-14")
AGREE = passage(3, "wire", "About 4,100 residents had to leave, the county said.", "2023-08-14")
UNDATED = passage(4, "blog", "A blog said 5,000 people left.", None)


def always(_question: str, _a: Source, _b: Source) -> bool:
    return True


def never(_question: str, _a: Source, _b: Source) -> bool:
    return False


Q = "How many people were evacuated?"


def test_the_newer_report_wins_and_the_older_value_is_the_disagreement() -> None:
    cands = (candidate(FIRST, "3,200", 0.9), candidate(UPDATE, "4,100", 0.6),
             candidate(AGREE, "4,100", 0.5))
    by_id = {p.passage_id: p for p in (FIRST, UPDATE, AGREE)}
    result = compare(Q, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always)
    assert result is not None
    assert result.chosen.text == "4,100" and result.chosen.passage is UPDATE
    assert [s.passage for s in result.agreeing] == [AGREE]
    assert [p.text for p in result.others] == ["3,200"]
    assert result.others[0].corrected is False


def test_weak_candidates_and_a_single_source_say_nothing() -> None:
    by_id = {p.passage_id: p for p in (FIRST, UPDATE)}
    weak = (candidate(FIRST, "3,200", 0.9), candidate(UPDATE, "4,100", 0.1))
    assert compare(Q, weak, by_id, 0.3, frozenset(), frozenset(), weak[0].span, always) is None
    alone = (candidate(FIRST, "3,200", 0.9),)
    assert compare(Q, alone, by_id, 0.3, frozenset(), frozenset(), alone[0].span, always) is None


def test_undated_sources_never_win_on_time_and_superseded_ones_never_win() -> None:
    cands = (candidate(UNDATED, "5,000", 0.9), candidate(FIRST, "3,200", 0.5))
    by_id = {p.passage_id: p for p in (UNDATED, FIRST)}
    result = compare(Q, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always)
    assert result is not None and result.chosen.text == "5,000"  # the reader's best stands
    old = compare(Q, cands, by_id, 0.3, frozenset({"blog"}), frozenset(), cands[0].span, always)
    assert old is not None and old.chosen.text == "3,200" and not old.others[0].current


def test_a_newer_correction_marks_what_it_corrects() -> None:
    cands = (candidate(FIRST, "3,200", 0.9), candidate(UPDATE, "4,100", 0.6))
    by_id = {p.passage_id: p for p in (FIRST, UPDATE)}
    result = compare(Q, cands, by_id, 0.3, frozenset(), frozenset({"update"}), cands[0].span, always)
    assert result is not None and result.others[0].corrected is True


def resolved(*passages: RetrievedPassage) -> dict[str, tuple[DateMention, ...]]:
    """The dates each passage's document names, as ingest resolves and stores them (each test
    document is its one passage)."""
    return {p.document_id: tuple(resolve_dates(p.text, p.published)) for p in passages}


def test_dates_are_compared_as_the_days_they_name_in_their_reports() -> None:
    # 2023-12-12 was a Tuesday: "late Tuesday" in Wednesday's report is the same night.
    night = passage(5, "day1", "The mill exploded Tuesday night, officials said.", "2023-12-12")
    late = passage(6, "day2", "The blast happened late Tuesday, the sheriff said.", "2023-12-13")
    road = passage(7, "day1b", "Route 9 will stay closed until Thursday morning.", "2023-12-12")
    later = passage(8, "day5", "Route 9 will stay closed until Dec. 22, the state said.",
                    "2023-12-15")
    by_id = {p.passage_id: p for p in (night, late, road, later)}
    dates = resolved(night, late, road, later)
    when = "When did the mill explode?"
    same = (candidate(late, "late Tuesday", 0.8), candidate(night, "Tuesday night", 0.7))
    agreed = compare(when, same, by_id, 0.3, frozenset(), frozenset(), same[0].span, always,
                     dates=dates)
    assert agreed is not None and agreed.others == []
    assert [s.passage for s in agreed.agreeing] == [night]
    until = "Until when will Route 9 stay closed?"
    moved = (candidate(road, "Thursday morning", 0.8), candidate(later, "Dec. 22", 0.7))
    result = compare(until, moved, by_id, 0.3, frozenset(), frozenset(), moved[0].span, always,
                     dates=dates)
    assert result is not None and result.chosen.text == "Dec. 22"
    assert [p.text for p in result.others] == ["Thursday morning"]
    # Tuesday's "Thursday" ahead is Dec. 14: the same day as Wednesday's "Dec. 14".
    dated = passage(10, "day2b", "Route 9 will stay closed until Dec. 14, the state said.",
                    "2023-12-13")
    by_id[dated.passage_id] = dated
    kept = (candidate(road, "Thursday", 0.8), candidate(dated, "Dec. 14", 0.7))
    same_day = compare(until, kept, by_id, 0.3, frozenset(), frozenset(), kept[0].span, always,
                       dates=resolved(road, dated))
    assert same_day is not None and same_day.others == []


def dated(pid: int, text: str, published: str) -> RetrievedPassage:
    return passage(pid, f"doc{pid}", text, published)


def grouped(question: str, picks: list[tuple[RetrievedPassage, str]]) -> list[list[str]]:
    """The values of `compare`'s groups (the answer's first), the first pick the best."""
    cands = tuple(candidate(p, v, 0.8 - i / 100) for i, (p, v) in enumerate(picks))
    by_id = {p.passage_id: p for p, _ in picks}
    result = compare(question, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span,
                     always, dates=resolved(*by_id.values()))
    assert result is not None
    return [[s.text for s in [result.chosen, *result.agreeing]],
            *[[s.text for s in p.sources] for p in result.others]]


def test_a_date_is_its_day_only_when_the_answer_is_the_whole_date() -> None:
    when = "When did the bridge open?"
    # "2023" read inside "Oct. 16, 2023" is the year, and agrees with another "2023"
    year = grouped(when, [(dated(20, "It opened on Oct. 16, 2023, the city said.", "2023-10-20"),
                           "2023"),
                          (dated(21, "It opened in 2023.", "2024-01-05"), "2023")])
    assert year == [["2023", "2023"]]
    # the same weekday in reports a week apart is two days
    week = grouped(when, [(dated(22, "It opened Tuesday, officials said.", "2023-12-12"),
                           "Tuesday"),
                          (dated(23, "It opened Tuesday, officials said.", "2023-12-19"),
                           "Tuesday")])
    assert len(week) == 2
    # the same day at other times
    clock = grouped(when, [(dated(24, "It opened at 10 p.m. Tuesday.", "2023-12-12"),
                            "10 p.m. Tuesday"),
                           (dated(25, "It opened at 9 a.m. Tuesday.", "2023-12-12"),
                            "9 a.m. Tuesday")])
    assert len(clock) == 2


def test_a_value_joins_a_group_only_if_it_agrees_with_all_of_it() -> None:
    groups = grouped("When did the bridge open?", [
        (dated(30, "It opened in 2023.", "2024-01-05"), "2023"),
        (dated(31, "It opened on Oct. 16, 2023.", "2023-10-20"), "Oct. 16, 2023"),
        (dated(32, "It opened on Nov. 2, 2023.", "2023-11-03"), "Nov. 2, 2023")])
    assert sorted(map(sorted, groups)) == [["2023", "Oct. 16, 2023"], ["Nov. 2, 2023"]]


@pytest.mark.parametrize(("question", "names"), [
    ("Who is Sorrel County's emergency services director?", ["sorrel county"]),
    ("In which city did Nikos Vardakis hold talks with Selim Aydemir?",
     ["nikos vardakis", "selim aydemir"]),
    ("Where did the ministers meet on Aug. 10, 2023?", []),
    ("When did the U.S. Army leave Tuesday?", ["u.s. army"]),
    ("Who reported it?", []),
    ("Who is O'Brien's lawyer?", ["o'brien"]),
    ("Sorrel County's director is who?", ["sorrel county"]),
    ("When did May resign?", ["may"]),
    ("Which paper, the Sunday Times or another, broke it?", ["sunday times"]),
])
def test_the_names_a_question_asks_about(question: str, names: list[str]) -> None:
    assert question_names(question) == names


def test_a_report_that_names_another_subject_does_not_disagree() -> None:
    ours = passage(11, "fire", "Alan Whitcomb, the county's emergency services director, said.",
                   "2023-08-14")
    theirs = passage(12, "storm", "Renata Solis, the county's emergency management director.",
                     "2023-12-12")
    by_id = {p.passage_id: p for p in (ours, theirs)}
    ask = "Who is Sorrel County's emergency services director?"
    cands = (candidate(ours, "Alan Whitcomb", 0.7), candidate(theirs, "Renata Solis", 0.8))
    naming = {"fire": frozenset({"sorrel county"}), "storm": frozenset()}
    # without what the documents name, the newer report wins
    newer = compare(ask, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always)
    assert newer is not None and newer.chosen.text == "Renata Solis"
    assert compare(ask, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always,
                   naming) is None
    both = {"fire": frozenset({"sorrel county"}), "storm": frozenset({"sorrel county"})}
    assert compare(ask, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always,
                   both) is not None
    # a document that names more of the question than the answer's is still compared
    more = {"fire": frozenset(), "storm": frozenset({"sorrel county"})}
    assert compare(ask, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, always,
                   more) is not None


def test_values_about_something_else_are_left_out() -> None:
    cands = (candidate(FIRST, "3,200", 0.9), candidate(UPDATE, "4,100", 0.6))
    by_id = {p.passage_id: p for p in (FIRST, UPDATE)}
    assert compare(Q, cands, by_id, 0.3, frozenset(), frozenset(), cands[0].span, never) is None


def test_slot_features_see_shape_and_the_question_in_the_evidence() -> None:
    assert [shape(v) for v in ("Aug. 10", "3,200", "Istanbul", "under investigation")] == [
        "date", "number", "name", "phrase"]
    cands = (candidate(FIRST, "3,200", 0.9), candidate(UPDATE, "4,100", 0.6))
    by_id = {p.passage_id: p for p in (FIRST, UPDATE)}
    sources = []
    for c in cands:
        p = by_id[c.span.passage_id]
        sources.append(Source(p.text[c.span.answer_start:c.span.answer_end], c, p, False, False))
    other, best, same_shape, other_covers, best_covers, overlap, frame = slot_features(
        "How many people were evacuated?", sources[0], sources[1])
    assert (other, best, same_shape) == (0.6, 0.9, 1.0)
    assert best_covers > 0 and other_covers > 0 and 0 < overlap < 1 and 0 < frame < 1


def source(text: str, value: str) -> Source:
    p = passage(9, "doc", text, "2023-08-12")
    return Source(value, candidate(p, value, 0.8), p, False, False)


def test_an_answers_frame_is_the_words_around_it_without_numbers() -> None:
    crews = source("Officials said about 900 firefighters were assigned.", "about 900")
    later = source("By Monday about 1,100 firefighters were assigned.", "about 1,100")
    acres = source("Officials said the fire had burned 7,800 acres.", "7,800 acres")
    assert frame_words(crews) == {"official", "said", "firefighter", "assigned"}
    assert frame_words(later) == {"monday", "firefighter", "assigned"}
    assert frame_words(acres) == {"fire", "burned", "acre"}
    feature = SLOT_FEATURES.index("frame_overlap")
    assert slot_features(Q, crews, later)[feature] > slot_features(Q, crews, acres)[feature]
