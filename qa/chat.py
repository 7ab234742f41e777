"""Asking within a conversation: follow-ups are resolved against the history before retrieval.

`ChatService.ask` loads the conversation's recent turns, rewrites a context-dependent question
into a standalone one (qa/followup.py), answers that with the QAService (the standalone question
is what is searched and read; the question as asked is what the answer reports), stores the turn
and returns the answer with `standalone_question` and `conversation_id` set.

Without a conversation id a new conversation is started. An id the store does not know (never
issued, expired or deleted) raises ConversationNotFound (HTTP 404) rather than silently starting
a fresh conversation under a client-chosen id: a client holding a stale id learns that its
context is gone, and ids stay server-issued and unguessable.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from qa.conversations import ConversationNotFound, ConversationStore, Turn, new_conversation_id
from qa.followup import HISTORY_TURNS, Exchange, analyse_turn, resolve
from qa.retriever import PassageFilter
from qa.service import QAService, get_service
from qa.settings import Settings, get_settings
from qa.types import Answer

log = logging.getLogger(__name__)

__all__ = ["ChatService", "ConversationNotFound", "get_chat_service", "exchange_of"]


def exchange_of(turn: Turn) -> Exchange:
    """What the follow-up resolver needs of a stored turn."""
    cited = turn.citations[0] if turn.answer is not None and turn.citations else None
    return Exchange(
        question=turn.question,
        answer=turn.answer,
        standalone_question=turn.standalone_question,
        evidence=(cited["quote"],) if cited else (),
        topic=cited["title"] if cited else None,
    )


class ChatService:
    def __init__(self, service: QAService, store: ConversationStore,
                 history_turns: int = HISTORY_TURNS):
        self.service = service
        self.store = store
        self.history_turns = history_turns
        # Analyses a new turn in the background, so the next follow-up finds it ready.
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="followup")
        self._pending: Future[float] | None = None

    def ask(self, question: str, conversation_id: str | None = None, top_k: int | None = None,
            where: PassageFilter | None = None,
            on_stage: Callable[[str], None] | None = None) -> Answer:
        """Answer `question` as the next turn of `conversation_id` (a new conversation when
        None). Raises QuestionError for an invalid question and ConversationNotFound for an
        unknown id, both before anything is searched or stored."""
        question = self.service.validate_question(question)
        started = time.perf_counter()
        if conversation_id is None:
            history: list[Turn] = []
        else:
            history = self.store.history(conversation_id, self.history_turns)
        rewrite_started = time.perf_counter()
        if history and on_stage is not None:
            on_stage("rewriting")  # a follow-up is worked out against the earlier turns
        standalone = resolve(question, [exchange_of(t) for t in history])
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
        answer.standalone_question = standalone
        answer.conversation_id = turn.conversation_id
        answer.timings_ms["rewrite"] = round(rewrite_ms, 2)
        answer.timings_ms["conversation"] = round(before_ms + store_ms, 2)
        self._analyse_later(turn)
        return answer

    def _analyse_later(self, turn: Turn) -> None:
        def work() -> float:
            started = time.perf_counter()
            try:
                analyse_turn(exchange_of(turn))
            except Exception:  # only a cache warm-up: resolution redoes it when needed
                log.exception("background analysis of a turn failed")
            return (time.perf_counter() - started) * 1000

        try:
            self._pending = self._background.submit(work)
        except RuntimeError:  # shutting down
            pass

    def wait_idle(self, timeout: float | None = None) -> float | None:
        """Wait for the background analysis of the last turn; its wall-clock ms, or None when
        there was none. It runs after the answer is returned, while a person reads and types;
        a question asked back-to-back shares the CPU with it."""
        pending = self._pending
        if pending is None:
            return None
        result = pending.result(timeout)  # a timeout raises and keeps it pending
        self._pending = None
        return result

    def conversation_exists(self, conversation_id: str) -> bool:
        return self.store.exists(conversation_id)

    def close(self) -> None:
        self._background.shutdown(wait=False)
        self.store.close()


@functools.cache
def _chat_for(key: str) -> ChatService:
    settings = Settings.model_validate_json(key)
    return ChatService(get_service(settings),
                       ConversationStore(settings.db_path, settings.conversation_ttl_hours))


def get_chat_service(settings: Settings | None = None) -> ChatService:
    """One chat service per process and settings (sharing get_service's QAService)."""
    settings = settings or get_settings()
    return _chat_for(settings.model_dump_json())
