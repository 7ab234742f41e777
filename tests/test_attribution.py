"""Source questions and the spans a reader may answer them with (qa.attribution), and the
span search's paragraph and allowed-span rules (qa.span_decoding)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.attribution import asks_for_source, source_names_of
from qa.reader import MAX_READ_CHARS, WindowSpan, complete_source_names
from qa.span_decoding import (
    SpanCandidate,
    best_spans,
    complete_name,
    paragraph_breaks,
    paragraph_numbers,
    tokens_within,
)
from qa.types import RetrievedPassage


@pytest.mark.parametrize("question", [
    "Who reported it?",
    "Which newspaper reported the meeting between Mashaal and Soleimani?",
    "Which Israeli news site also ran the report?",
    "Which broadcaster was first to report the measles outbreak?",
    "Which newspaper first reported the merger talks?",
    "According to whom did the quake hit 12 kilometers southwest of Brava?",
    "Which broadcaster did the mayor tell about the missing caretaker?",
    "Who said the plant would close?",
    "Which publication broke the news that the plant would close?",
    "Which paper published the leak?",
    "And who reported it?",  # a chat's lead-in
    "Who else reported it?",
    "According to who did the quake hit?",
    "Which of the three papers reported it?",
    "Who has reported on the fire?",
])
def test_questions_that_ask_for_a_source(question: str) -> None:
    assert asks_for_source(question)


@pytest.mark.parametrize("question", [
    "What did Tehran say?",  # what was said, not who said it
    "What did the report say about Gaza?",
    "Where did they meet?",
    "Who leads Hamas?",
    "When was the meeting reported?",
    "How many people did the report say were evacuated?",
    "Which book by Edward Said portrayed the east as the other?",  # a name, not a verb
    "Which French composer wrote ametrical music?",  # writing, not reporting
    "Who broke the record?",
    "What percentage of teens report being bullied?",  # a number
    "What share of voters said yes?",
])
def test_questions_that_do_not(question: str) -> None:
    assert not asks_for_source(question)


def test_the_names_in_source_phrases_and_the_word_before_each() -> None:
    text = ("ANKARA, Aug. 10, 2014\n\nSaudi daily Al-Hayat reported the meeting on Tuesday. "
            "The report was also carried by Israeli news site\xa0Ynet. Officials told the "
            "broadcaster NCTV that talks would resume, according to the Wall Street Journal. "
            "He said nothing.")
    found = {text[a:b]: text[:before].split()[-1] for before, a, b in source_names_of([text])[0]}
    assert found == {"Al-Hayat": "daily", "Ynet": "site", "NCTV": "broadcaster",
                     "Wall Street Journal": "the"}


def test_a_span_cut_before_or_inside_a_source_name_is_carried_to_its_end() -> None:
    text = "Saudi daily Al-Hayat reported it"
    names = [(11, 12, 20)]  # "Al-Hayat", after "daily"
    def mended(start: int, end: int) -> str:
        span = complete_name(SpanCandidate(start, end, 1.5), names)
        assert span.score == 1.5  # the reader's score is kept
        return text[span.start_char:span.end_char]
    assert mended(0, 11) == "Saudi daily Al-Hayat"  # "Saudi daily"
    assert mended(0, 14) == "Saudi daily Al-Hayat"  # "Saudi daily Al"
    assert mended(12, 20) == "Al-Hayat"  # whole already
    assert mended(0, 5) == "Saudi"  # not just before the name
    assert mended(21, 29) == "reported"


def _offsets(context: str) -> list[tuple[int, int] | None]:
    """One token per word of `context`, with [CLS]-like None first."""
    out: list[tuple[int, int] | None] = [None]
    pos = 0
    for word in context.split():
        start = context.index(word, pos)
        out.append((start, start + len(word)))
        pos = start + len(word)
    return out


def test_a_span_never_crosses_a_blank_line_but_may_cross_a_wrapped_line() -> None:
    context = "the town\n\nJudge Evelyn Marchetti said\nit again"
    offsets = _offsets(context)
    start, end = np.zeros(len(offsets)), np.zeros(len(offsets))
    start[2], start[3], end[5] = 5.0, 4.0, 6.0  # "town" starts the best span, across the break
    segments = paragraph_numbers(paragraph_breaks(context), offsets)
    assert segments[1:] == [0, 0, 1, 1, 1, 1, 1, 1]
    free = best_spans(start, end, offsets)[0]
    kept = best_spans(start, end, offsets, segments=segments)[0]
    assert context[free.start_char:free.end_char] == "town\n\nJudge Evelyn Marchetti"
    assert context[kept.start_char:kept.end_char] == "Judge Evelyn Marchetti"
    start[6], end[7] = 9.0, 9.0  # "said\nit": one paragraph, a wrapped line
    kept = best_spans(start, end, offsets, segments=segments)[0]
    assert context[kept.start_char:kept.end_char] == "said\nit"




def _passage(text: str, start: int, sentences: tuple[tuple[int, int], ...]) -> RetrievedPassage:
    return RetrievedPassage(passage_id=1, document_id="d", title="t", start=start,
                            end=start + len(text), text=text, score=1.0, sentences=sentences)


def _mended(question: str, passage: RetrievedPassage, start: int, end: int) -> str:
    found = [WindowSpan(0, SpanCandidate(start, end, 2.0), 0.0)]
    span = complete_source_names(question, [passage], found)[0].span
    assert span.score == 2.0
    return passage.text[span.start_char:span.end_char]


def test_a_source_question_mends_the_name_in_the_sentence_the_span_ends_in() -> None:
    text = "The fire grew overnight. Saudi daily Al-Hayat reported the meeting on Tuesday."
    cut = text.index("daily") + len("daily")
    # Sentences are document offsets: the passage starts at 17 in its document.
    passage = _passage(text, 17, ((17, 17 + 24), (17 + 25, 17 + len(text))))
    assert _mended("Which newspaper reported it?", passage, 25, cut) == "Saudi daily Al-Hayat"
    assert _mended("Where did they meet?", passage, 25, cut) == "Saudi daily"  # not a source question
    unsplit = _passage(text, 17, ())  # sentences unknown: the whole text is parsed
    assert _mended("Which newspaper reported it?", unsplit, 25, cut) == "Saudi daily Al-Hayat"


def test_a_sentence_as_long_as_a_document_is_parsed_only_around_the_span() -> None:
    head = "Saudi daily Al-Hayat reported that "
    text = head + "the talks went on and on " * 48_000 + "."  # 1.2 MB, one sentence
    passage = _passage(text, 0, ((0, len(text)),))
    assert _mended("Who reported it?", passage, 0, len("Saudi daily")) == "Saudi daily Al-Hayat"
    # A name is never carried past what the reader read.
    late = "x " * (MAX_READ_CHARS // 2 - 6) + "Saudi daily Al-Hayat reported it."
    cut = late.index("daily") + len("daily")
    assert cut < MAX_READ_CHARS < late.index("reported")
    long_passage = _passage(late, 0, ((0, len(late)),))
    assert _mended("Who reported it?", long_passage, cut - 11, cut).endswith("daily")


def test_a_span_never_touches_a_blocked_token() -> None:
    context = "ATHENS, Aug. 10 \u2014 The ministers met in Istanbul"
    offsets = _offsets(context)
    start, end = np.zeros(len(offsets)), np.zeros(len(offsets))
    start[1], end[1], start[9], end[9] = 9.0, 9.0, 5.0, 5.0  # "ATHENS," beats "Istanbul"
    blocked = tokens_within([(0, len("ATHENS, Aug. 10 \u2014 "))], offsets)
    assert blocked[1:5] == [True] * 4 and not any(blocked[5:])
    assert best_spans(start, end, offsets)[0].start_char == 0
    kept = best_spans(start, end, offsets, blocked=blocked)[0]
    assert context[kept.start_char:kept.end_char] == "Istanbul"
