"""Conversations: read or delete the turns of a chat (asking happens at POST /v1/ask)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response

from api.deps import Chat, require_ask_key
from api.schemas import CitationOut, ConversationOut, ErrorOut, TurnOut

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _not_found(conversation_id: str) -> HTTPException:
    return HTTPException(404, f"no conversation with id {conversation_id!r} (it may have expired "
                              "or been deleted)")


@router.get("/{conversation_id}", response_model=ConversationOut, responses=_ERRORS,
            dependencies=[Depends(require_ask_key)])
def get_conversation(conversation_id: str, chat: Chat) -> ConversationOut:
    """The turns of a conversation, oldest first: each question as asked, the standalone
    question that was searched, the answer and its citations."""
    conversation = chat.conversation(conversation_id)
    if conversation is None:
        raise _not_found(conversation_id)
    return ConversationOut(
        id=conversation.id, created_at=conversation.created_at,
        updated_at=conversation.updated_at, expires_at=conversation.expires_at,
        turns=[TurnOut(turn=t.turn, question=t.question,
                       standalone_question=t.standalone_question, answer=t.answer,
                       citations=[CitationOut(**c) for c in t.citations],
                       created_at=t.created_at)
               for t in conversation.turns],
    )


@router.delete("/{conversation_id}", status_code=204, responses=_ERRORS,
               dependencies=[Depends(require_ask_key)])
def delete_conversation(conversation_id: str, chat: Chat) -> Response:
    """Delete a conversation and all its turns (its id then answers 404)."""
    if not chat.delete_conversation(conversation_id):
        raise _not_found(conversation_id)
    return Response(status_code=204)
