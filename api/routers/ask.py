"""Asking questions."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import require_ask_key, service_dep
from api.schemas import AskIn, AskOut, ErrorOut
from qa.retriever import PassageFilter
from qa.service import QAService, describe

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post("/ask", response_model=AskOut, dependencies=[Depends(require_ask_key)],
             responses={400: {"model": ErrorOut}, 422: {"model": ErrorOut}})
def ask(body: AskIn, service: QAService = Depends(service_dep)) -> AskOut:
    """Answer a question from the stored articles, with citations (character offsets into the
    document's text). `answer` is null when the articles do not say."""
    where = PassageFilter(body.document_ids, body.published_from, body.published_to)
    answer = service.ask(body.question, body.top_k, where)
    return AskOut.model_validate(describe(answer))
