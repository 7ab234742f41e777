"""Conversations the client carries, and answers written as chat text.

Chat apps that speak OpenAI's Chat Completions send the whole conversation with every request
and keep no conversation id. `ask_in_transcript` answers the last question against the earlier
turns of such a transcript with the same follow-up resolver as a stored conversation
(qa/chat.py, qa/followup/), and stores nothing.

`render` writes an answer as text a person can read in any chat app: the answer, a numbered
marker per citation and a short sources list ("Turkey [1]" ... "[1] Title — “quote”"), or,
when the articles do not say, that and the closest passages. An earlier assistant turn is read
back from that text (`read_reply`): the answer before its markers and the first source's title
and quote, which is what `qa.chat.exchange_of` takes from a stored turn's citations.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.chat import first_stage_search
from qa.followup import HISTORY_TURNS, Exchange, resolve
from qa.followup.analysis import analyse_unstored
from qa.retriever import PassageFilter
from qa.service import QAService
from qa.stories import STATUS_WORDS
from qa.text import clean_line
from qa.types import Alternative, Answer, Citation

log = logging.getLogger(__name__)

SOURCES = "Sources:"
NOT_SAID = "The articles do not say."
CLOSEST = "The closest passages:"
MAX_QUOTE_CHARS = 300  # longer quotes are shortened around the answer in the text (not in citations)
# Earlier turns resolved for a transcript: enough context for the last HISTORY_TURNS, bounded
# cost for a very long one.
RESOLVED_TURNS = 4 * HISTORY_TURNS

_SOURCE_LINE = re.compile(r"^\[(\d+)\] (?P<title>.*) — “(?P<quote>.*)”$")
_TRAILING_MARKERS = re.compile(r"(?:\s*\[\d+\])+\s*$")


@dataclass(frozen=True)
class Marker:
    """Where "[n]" stands in the text, for citation `citation` (an index into the answer's
    citations)."""

    citation: int
    start: int
    end: int


@dataclass(frozen=True)
class Rendered:
    content: str
    markers: list[Marker]


def one_line(text: str) -> str:
    return " ".join(text.split())


def short_quote(citation: Citation, limit: int = MAX_QUOTE_CHARS) -> str:
    """The quote on one line; one over `limit` characters is cut at words around the answer
    (or from its start) with "…" where text was left out."""
    quote = one_line(citation.quote)
    if len(quote) <= limit:
        return quote
    centre = 0
    if citation.answer_start is not None:
        centre = max(0, citation.answer_start - citation.start)
    begin = max(0, min(centre - limit // 3, len(quote) - limit))
    end = begin + limit
    if begin > 0:
        space = quote.find(" ", begin)
        begin = space + 1 if 0 <= space < begin + 40 else begin
    if end < len(quote):
        space = quote.rfind(" ", begin, end)
        end = space if space > begin else end
    return ("…" if begin > 0 else "") + quote[begin:end] + ("…" if end < len(quote) else "")


def render(answer: Answer) -> Rendered:
    """The answer as chat text, with the span of each citation's marker."""
    sources = [f"[{n}] {one_line(c.title)} — “{short_quote(c)}”"
               for n, c in enumerate(answer.citations, start=1)]
    markers: list[Marker] = []
    if answer.answer is not None:
        content = answer.answer.strip()
        for n in range(1, len(answer.citations) + 1):
            content += " "
            markers.append(Marker(n - 1, len(content), len(content) + len(f"[{n}]")))
            content += f"[{n}]"
        if sources:
            content += "\n\n" + SOURCES + "\n" + "\n".join(sources)
        if answer.as_of:
            content += f"\n\nAs reported on {answer.as_of}."
        if answer.also_reported_by:
            content += "\nAlso reported by: " + "; ".join(s.title for s in answer.also_reported_by) + "."
        for alt in answer.disagreement or []:
            content += "\n" + disagreement_line(alt)
        return Rendered(content, markers)
    if not sources:
        return Rendered(NOT_SAID, [])
    content = NOT_SAID + " " + CLOSEST
    for n, line in enumerate(sources, start=1):
        content += "\n"
        markers.append(Marker(n - 1, len(content), len(content) + len(f"[{n}]")))
        content += line
    return Rendered(content, markers)


def disagreement_line(alt: Alternative) -> str:
    """"Other reports say: 6,500 (2023-08-10, an earlier report; Title)"."""
    dated = f"{alt.published}, " if alt.published else ""
    title = f"; {one_line(alt.citations[0].title)}" if alt.citations else ""
    return f"Other reports say: {alt.answer} ({dated}{STATUS_WORDS[alt.status]}{title})"


def read_reply(question: str, standalone: str, reply: str | None) -> Exchange:
    """An earlier turn as the follow-up resolver sees it. `reply` is the assistant's text: one
    that `render` wrote gives back its answer and first source; any other text is taken as the
    answer itself."""
    text = (reply or "").strip()
    if not text or text.startswith(NOT_SAID):
        return Exchange(question=question, answer=None, standalone_question=standalone)
    body, _, sources = text.partition("\n\n" + SOURCES + "\n")
    answer = _TRAILING_MARKERS.sub("", body).strip() or None
    first = _SOURCE_LINE.match(sources.split("\n", 1)[0]) if sources else None
    return Exchange(
        question=question, answer=answer, standalone_question=standalone,
        evidence=(first.group("quote"),) if first and answer else (),
        topic=first.group("title") if first and answer else None,
    )


def resolve_history(earlier: Sequence[tuple[str, str | None]]) -> list[Exchange]:
    """The earlier (question, reply) turns, oldest first, each question resolved against the
    turns before it as it was when it was asked."""
    exchanges: list[Exchange] = []
    for asked, reply in earlier[-RESOLVED_TURNS:]:
        question = clean_line(asked)
        if not question:
            continue
        standalone = resolve(question, exchanges[-HISTORY_TURNS:])
        turn = read_reply(question, standalone, reply)
        exchanges.append(replace(turn, analysis=analyse_unstored(turn)))
    return exchanges


def ask_in_transcript(service: QAService, question: str,
                      earlier: Sequence[tuple[str, str | None]] = (),
                      where: PassageFilter | None = None) -> Answer:
    """Answer `question` as the next turn after `earlier` ((question, reply) pairs, oldest
    first), like `ChatService.ask` does for a stored conversation; nothing is stored.
    Raises QuestionError for an invalid question before anything is searched."""
    question = service.validate_question(question)
    started = time.perf_counter()
    history = resolve_history(earlier)[-HISTORY_TURNS:]
    standalone = resolve(question, history,
                         search=first_stage_search(service, where) if history else None)
    rewrite_ms = (time.perf_counter() - started) * 1000
    if standalone != question:
        log.info("follow-up %r resolved to %r", question, standalone)
    answer = service.ask(question, where=where, search_query=standalone)
    return replace(answer, standalone_question=standalone,
                   timings_ms={**answer.timings_ms, "rewrite": round(rewrite_ms, 2)})
