"""The resolver: runs the rewriters, checks their candidates against the articles, picks one.

`Resolver.resolve(question, history, topic, search)` returns a `Resolution`: the standalone
question and every candidate with its score. A greeting, and a question that certainly stands
alone (no pronoun, demonstrative or ellipsis: `may_need_context`), is left alone without a
parse. Otherwise every rewriter proposes candidates; the raw question is always one of them.
With a first-stage `search` (the corpus' lexical search in the chat service) each candidate is
searched and the fitted selector (qa/followup/selector.py) weighs the rules' preference against
how well the retrieved passages support it; without one the selector's search-free model is
used, and without a fitted selector the rules' first choice.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.followup.analysis import Exchange, TurnAnalysis
from qa.followup.mentions import WORD
from qa.followup.rewriters import (
    ABOUT,
    REWRITERS,
    TRIGGER,
    Candidate,
    Context,
    QuestionAnalysis,
    Rewriter,
)
from qa.followup.selector import Retrieved, Search, Selector, features, retrieve

log = logging.getLogger(__name__)

HISTORY_TURNS = 2  # earlier turns looked at (chosen on CANARD's tuning half, eval/RESULTS.md)
MAX_CANDIDATES = 4  # the raw question and at most three rewrites

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|thanks|thank you|thx|cheers|ok|okay|cool|great|bye|"
    r"goodbye|see you|good (morning|afternoon|evening|night|day))"
    r"( there| again| all| everyone| very much| so much| a lot| for that| for this)?[\s!.,?]*$",
    re.I,
)


def is_greeting(question: str) -> bool:
    return bool(_GREETING.match(question))


def may_need_context(question: str) -> bool:
    """False when the question certainly stands alone (no parse needed)."""
    if is_greeting(question):
        return False
    return bool(TRIGGER.search(question)) or len(WORD.findall(question)) <= 3 \
        or bool(ABOUT.match(question))


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    question: str
    standalone: str
    candidates: tuple[Scored, ...] = ()
    searched: bool = False
    ms: float = 0.0


class Resolver:
    def __init__(self, rewriters: Sequence[Rewriter] = REWRITERS,
                 selector: Selector | None = None, max_candidates: int = MAX_CANDIDATES,
                 always_search: bool = False):
        """`always_search`: search the candidates even when no fitted model will use the
        result (to collect the features a model is fitted on)."""
        self.rewriters = tuple(rewriters)
        self.selector = selector if selector is not None else Selector.load()
        self.max_candidates = max_candidates
        self.always_search = always_search

    def candidates(self, question: str, context: Context) -> list[Candidate]:
        """The raw question first, then the rewriters' candidates, each text once (the first
        rewriter to propose a text keeps it)."""
        parsed = QuestionAnalysis(question)
        out = [Candidate(question, "raw", 0.0)]
        seen = {question}
        for rewriter in self.rewriters:
            for c in rewriter.rewrite(parsed, context):
                if c.text not in seen and len(out) < self.max_candidates:
                    seen.add(c.text)
                    out.append(c)
        return out

    def resolve(self, question: str, history: Sequence[Exchange], topic: str | None = None,
                search: Search | None = None,
                analyses: Sequence[TurnAnalysis] | None = None) -> Resolution:
        started = time.perf_counter()
        question = question.strip()
        if not question or (not history and not topic) or not may_need_context(question):
            return Resolution(question, question)
        recent = list(history)[-HISTORY_TURNS:]
        kept = list(analyses)[-HISTORY_TURNS:] if analyses is not None else []
        try:
            context = Context(recent, topic, kept)
            candidates = self.candidates(question, context)
            scored, searched = self._score(question, candidates, search)
        except Exception:  # resolution must never break asking
            log.exception("follow-up resolution failed; asking the question as it is")
            return Resolution(question, question)
        best = max(scored, key=lambda s: s.score)
        return Resolution(question, best.candidate.text, tuple(scored), searched,
                          (time.perf_counter() - started) * 1000)

    def _score(self, question: str, candidates: list[Candidate], search: Search | None
               ) -> tuple[list[Scored], bool]:
        if len(candidates) == 1:
            return [Scored(candidates[0], 0.0)], False
        rule_top = candidates[1]  # the first rewriter's first choice
        model = self.selector.model(search is not None)
        searched = search is not None and (model is not None or self.always_search)
        found: dict[str, Retrieved] = {}
        if searched:
            assert search is not None
            for c in candidates:
                try:
                    found[c.text] = retrieve(search, c.text)
                except Exception:  # a failed search leaves the candidate unsupported
                    log.exception("searching a follow-up candidate failed")
                    found[c.text] = Retrieved(0.0, "")
        rows = [features(c, question, c is rule_top, found.get(c.text),
                         found.get(question)) for c in candidates]
        if model is None:
            return [Scored(c, float(c is rule_top), r) for c, r in zip(candidates, rows,
                                                                         strict=True)], searched
        scores = model.scores(rows)
        return [Scored(c, float(s), r) for c, s, r in zip(candidates, scores, rows,
                                                          strict=True)], searched


@functools.cache
def default_resolver() -> Resolver:
    return Resolver()


def resolve(question: str, history: Sequence[Exchange], topic: str | None = None,
            search: Search | None = None) -> str:
    """The standalone form of `question` given the earlier turns (oldest first); `question`
    itself when it stands alone, is a greeting, or cannot be resolved. `topic` is an optional
    conversation-wide title (e.g. the article or encyclopedia entry being discussed); `search`
    an optional first-stage search to check candidates against."""
    return default_resolver().resolve(question, history, topic, search).standalone
