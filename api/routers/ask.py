"""Asking questions."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import Chat, require_ask_key
from api.schemas import GUARD_ERRORS, AskIn, AskOut, ErrorOut
from qa.retriever import PassageFilter
from qa.service import describe

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post("/ask", response_model=AskOut, dependencies=[Depends(require_ask_key)],
             responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut},
                        422: {"model": ErrorOut}, **GUARD_ERRORS})
def ask(body: AskIn, chat: Chat) -> AskOut:
    """Answer a question from the stored articles, with citations (character offsets into the
    document's text). `answer` is null when the articles do not say.

    Every question is a turn of a conversation: without `conversation_id` a new one is started,
    and its id is returned; pass it back to ask follow-ups ("Where?", "What did they talk
    about?"), which are resolved against the earlier turns before searching.
    `standalone_question` is what was searched. An unknown or expired `conversation_id` is a
    404."""
    where = PassageFilter(body.document_ids, body.published_from, body.published_to,
                          body.include_superseded, body.require_date)
    answer = chat.ask(body.question, body.conversation_id, body.top_k, where)
    return AskOut.model_validate(describe(answer))
