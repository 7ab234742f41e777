"""Answers as chat text and back (qa/transcript.py), and how a Chat Completions request splits
into the question and the earlier turns (api/openai_schemas.py). No models needed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.openai_schemas import ChatCompletionIn
from qa.transcript import NOT_SAID, read_reply, render, short_quote
from qa.types import Alternative, Answer, Citation

TITLE = "Report: Hamas leader met with top Iran commander"
QUOTE = ("Khaled Mashaal and Iran’s al-Quds Force commander Qassem Soleimani held a meeting in\n"
         "Turkey several days after the conflict ended in late August, Saudi daily Al-Hayat "
         "reported.")


def citation(quote: str = QUOTE, answer: str | None = "Turkey", start: int = 672) -> Citation:
    at = quote.index(answer) if answer else None
    return Citation("doc1", TITLE, 3, start, start + len(quote), quote,
                    None if at is None else start + at,
                    None if at is None else start + at + len(answer or ""))


def answer_of(text: str | None, citations: list[Citation]) -> Answer:
    return Answer("where did they meet?", text, 0.5, 0.1, citations, [])


def test_answer_markers_and_sources() -> None:
    rendered = render(answer_of("Turkey", [citation()]))
    one_line_quote = " ".join(QUOTE.split())
    assert rendered.content == f"Turkey [1]\n\nSources:\n[1] {TITLE} — “{one_line_quote}”"
    [marker] = rendered.markers
    assert rendered.content[marker.start:marker.end] == "[1]" and marker.citation == 0


def test_the_date_and_other_reports_follow_the_sources_and_read_back_cleanly() -> None:
    answer = answer_of("Turkey", [citation()])
    answer.as_of = "2014-09-02"
    answer.disagreement = [Alternative("Qatar", 0.6, [citation("They met in Qatar.", "Qatar")],
                                       "2014-08-30", False, True, "corrected")]
    content = render(answer).content
    assert content.endswith("\n\nAs reported on 2014-09-02.\nOther reports say: Qatar "
                            f"(2014-08-30, since corrected; {TITLE})")
    back = read_reply("where did they meet?", "where did they meet?", content)
    assert back.answer == "Turkey" and back.topic == TITLE


def test_abstention_lists_the_closest_passages_without_an_answer() -> None:
    cited = [citation(answer=None), citation("The storm flooded the town.", None, 10)]
    rendered = render(answer_of(None, cited))
    lines = rendered.content.split("\n")
    assert lines[0] == f"{NOT_SAID} The closest passages:"
    assert lines[1].startswith("[1] ") and lines[2].startswith("[2] ")
    assert [rendered.content[m.start:m.end] for m in rendered.markers] == ["[1]", "[2]"]
    assert render(answer_of(None, [])).content == NOT_SAID


def test_a_reply_reads_back_as_the_turn_it_was() -> None:
    reply = render(answer_of("Qassem Soleimani", [citation(answer="Qassem Soleimani")])).content
    turn = read_reply("Who did Mashaal meet?", "Who did Mashaal meet?", reply)
    assert turn.answer == "Qassem Soleimani" and turn.topic == TITLE
    assert turn.evidence == (" ".join(QUOTE.split()),)
    abstained = read_reply("Why?", "Why?", render(answer_of(None, [citation(answer=None)])).content)
    assert abstained.answer is None and abstained.evidence == () and abstained.topic is None
    # Another assistant's words are taken as the answer itself.
    assert read_reply("Who?", "Who?", "Qassem Soleimani.").answer == "Qassem Soleimani."


def test_a_long_quote_is_shortened_around_the_answer() -> None:
    quote = ("Filler words come first here. " * 15) + "The talks were held in Turkey that week. " + \
        ("More words follow after it. " * 15)
    short = short_quote(citation(quote, "Turkey"), limit=120)
    assert "Turkey" in short and short.startswith("…") and short.endswith("…")
    assert len(short) <= 122


def request(messages: list[dict[str, object]], **extra: object) -> ChatCompletionIn:
    return ChatCompletionIn.model_validate({"model": "pressroom", "messages": messages, **extra})


def test_the_last_user_message_is_the_question() -> None:
    body = request([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Who did Mashaal meet?"},
        {"role": "assistant", "content": "Qassem Soleimani [1]"},
        {"role": "user", "content": [{"type": "text", "text": "Where?"}]},
    ])
    assert body.question == "Where?"
    assert body.earlier == [("Who did Mashaal meet?", "Qassem Soleimani [1]")]


@pytest.mark.parametrize(("extra", "why"), [
    ({"n": 3}, "only n=1 is supported"), ({"logprobs": True}, "log probabilities are not"),
    ({"stream": 1}, "valid boolean"), ({"tools": []}, "tools are not supported"),
    ({"temperature": "hot"}, "valid number")])
def test_what_cannot_be_honoured_is_refused(extra: dict[str, object], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        request([{"role": "user", "content": "where?"}], **extra)


def test_harmless_parameters_pass() -> None:
    body = request([{"role": "user", "content": "where?"}], temperature=0.7, max_tokens=20.0,
                   n=1, stop=["\n"], user="someone", stream_options={"include_usage": True})
    assert body.question == "where?"
    with pytest.raises(ValidationError, match="user message"):
        request([{"role": "system", "content": "hi"}])
    with pytest.raises(ValidationError, match="tool messages"):
        request([{"role": "user", "content": "x"}, {"role": "tool", "content": "y",
                                                    "tool_call_id": "1"}])
