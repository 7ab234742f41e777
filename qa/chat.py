"""Asking within a conversation: follow-ups are resolved against the history before retrieval.

`ChatService.ask` loads the conversation's recent turns, rewrites a context-dependent question
into a standalone one (qa/followup/), answers that with the QAService (the standalone question
is what is searched and read; the question as asked is what the answer reports), stores the turn
and returns the answer with `standalone_question` and `conversation_id` set.

Without a conversation id a new conversation is started. An id the store does not know (never
issued, expired or deleted) raises ConversationNotFound (HTTP 404) rather than silently starting
a fresh conversation under a client-chosen id: a client holding a stale id learns that its
context is gone, and ids stay server-issued and unguessable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from qa.followup import (
    HISTORY_TURNS,
    Exchange,
    Resolver,
    Search,
    TurnAnalysis,
    analyse,
    may_need_context,
    prime,
)
from qa.followup import default_resolver as default_followup_resolver
from qa.retriever import PassageFilter
from qa.service import QAService
from qa.storage.conversations import (
    Conversation,
    ConversationNotFound,
    ConversationStore,
    Turn,
    new_conversation_id,
)
from qa.types import Answer

log = logging.getLogger(__name__)

__all__ = ["ChatService", "ConversationNotFound", "open_chat", "exchange_of"]

SEARCH_DEPTH = 3  # passages a follow-up candidate is checked against


def exchange_of(turn: Turn) -> Exchange:
    """What the follow-up resolver needs of a stored turn, with the analysis kept with it."""
    cited = turn.citations[0] if turn.answer is not None and turn.citations else None
    return Exchange(
        question=turn.question,
        answer=turn.answer,
        standalone_question=turn.standalone_question,
        evidence=(cited["quote"],) if cited else (),
        topic=cited["title"] if cited else None,
        analysis=TurnAnalysis.from_dict(turn.analysis) if turn.analysis else None,
    )


def first_stage_search(service: QAService, where: PassageFilter | None) -> Search:
    """The cheapest search of the corpus (its full-text index, no embedding, no re-scoring),
    within `where`'s documents and dates, for checking follow-up candidates."""
    corpus = service.corpus
    allowed: list[list[int] | None] = []  # worked out on the first search only

    def search(query: str) -> list[tuple[str, float]]:
        if not allowed:
            allowed.append(corpus.passage_ids(where.document_ids, where.published_from,
                                              where.published_to, where.require_date)
                           if where is not None and where.active else None)
        hits = corpus.full_text_search(query, SEARCH_DEPTH, allowed[0])
        records = corpus.passages([pid for pid, _ in hits])
        return [(records[pid].text, score) for pid, score in hits if pid in records]

    return search


class ChatService:
    def __init__(self, service: QAService, store: ConversationStore,
                 history_turns: int = HISTORY_TURNS, resolver: Resolver | None = None):
        self.service = service
        self.store = store
        self.history_turns = history_turns
        self.resolver = resolver or default_followup_resolver()

    def ask(self, question: str, conversation_id: str | None = None, top_k: int | None = None,
            where: PassageFilter | None = None,
            on_stage: Callable[[str], None] | None = None) -> Answer:
        """Answer `question` as the next turn of `conversation_id` (a new conversation when
        None). Raises QuestionError for an invalid question and ConversationNotFound for an
        unknown id, both before anything is searched or stored."""
        # validated once, here: the service takes the Question as it is
        question = self.service.validate_question(question)
        started = time.perf_counter()
        if conversation_id is None:
            history: list[Turn] = []
        else:
            history = self.store.history(conversation_id, self.history_turns)
        rewrite_started = time.perf_counter()
        if history and on_stage is not None:
            on_stage("rewriting")  # a follow-up is worked out against the earlier turns
        exchanges = [exchange_of(t) for t in history]
        analysis_ms = 0.0
        if history and may_need_context(question):
            analysed_at = time.perf_counter()
            exchanges = self._analysed(history, exchanges)
            analysis_ms = (time.perf_counter() - analysed_at) * 1000
        resolution = self.resolver.resolve(
            question, exchanges, search=first_stage_search(self.service, where)
            if history else None)
        standalone = resolution.standalone
        rewrite_ms = (time.perf_counter() - rewrite_started) * 1000
        before_ms = (time.perf_counter() - started) * 1000
        if standalone != question:
            log.info("follow-up %r resolved to %r", question, standalone)
        answer = self.service.ask(question, top_k, where, search_query=standalone,
                                  on_stage=on_stage)
        stored_at = time.perf_counter()
        turn = self.store.add_turn(conversation_id or new_conversation_id(), question,
                                   standalone, answer.answer, answer.citations,
                                   create=conversation_id is None)
        store_ms = (time.perf_counter() - stored_at) * 1000
        timings = {**answer.timings_ms, "rewrite": round(rewrite_ms, 2)}
        if analysis_ms:
            timings["analysis"] = round(analysis_ms, 2)  # part of "rewrite"
        timings["conversation"] = round(before_ms + store_ms, 2)
        return replace(answer, standalone_question=standalone,
                       conversation_id=turn.conversation_id, timings_ms=timings)

    def _analysed(self, history: list[Turn], exchanges: list[Exchange]) -> list[Exchange]:
        """The earlier turns with their analyses: a turn not analysed yet is analysed now, the
        first time a question needs it, and its analysis kept with it in the store, so no turn
        is analysed twice and a conversation of questions that stand alone analyses nothing."""
        out = []
        try:
            prime(exchanges)
        except Exception:  # each turn is tried (and its failure logged) below
            log.exception("parsing the conversation's earlier turns failed")
        for turn, exchange in zip(history, exchanges, strict=True):
            if exchange.analysis is None:
                try:
                    analysis = analyse(exchange)
                    self.store.set_analysis(turn.conversation_id, turn.turn, analysis.to_dict())
                    exchange = replace(exchange, analysis=analysis)
                except Exception:  # the resolver analyses it itself then
                    log.exception("analysing conversation turn %d failed", turn.turn)
            out.append(exchange)
        return out

    def conversation_exists(self, conversation_id: str) -> bool:
        return self.store.exists(conversation_id)

    def conversation(self, conversation_id: str) -> Conversation | None:
        """A conversation with all its turns; None when missing or expired."""
        return self.store.get(conversation_id)

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation; False when there was none (or it expired)."""
        return self.store.delete(conversation_id)

    def close(self) -> None:
        self.store.close()


def open_chat(service: QAService) -> ChatService:
    """A chat service over `service`, its conversations kept in the same data dir (the API's
    lifespan and `qa ask --chat` each open one per process)."""
    settings = service.settings
    return ChatService(service, ConversationStore(settings.db_path, settings.conversation_ttl_hours))
