"""OpenAI-compatible chat: GET /v1/models and POST /v1/chat/completions, so that any chat app or
client that speaks OpenAI's Chat Completions can ask Pressroom.

The last user message is the question; the earlier user/assistant turns are the conversation
that follow-ups are resolved against (qa/transcript.py: the same resolver as a stored
conversation, nothing stored). The assistant's `content` is the answer with numbered markers
and a sources list; `message.annotations` (OpenAI's `url_citation`) give each marker's span and
a link that opens the article at the quote, and the top-level `citations` are exactly
/v1/ask's."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import event_stream
from api.deps import require_ask_key, service_dep
from api.event_stream import EventStreamResponse
from api.openai_schemas import (
    MODEL_ID,
    OPENAI_GUARD_ERRORS,
    Annotation,
    ChatCompletionIn,
    ChatCompletionOut,
    ChatMessageOut,
    ChoiceOut,
    ModelListOut,
    ModelOut,
    UrlCitation,
    openai_error,
    openai_json_error,
)
from api.schemas import CitationOut
from qa.retriever import PassageFilter
from qa.service import QAService, QuestionError
from qa.transcript import ask_in_transcript, render
from qa.types import Answer, Citation

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_ask_key)])

STARTED = int(time.time())  # the model list's `created`: when this server started

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: openai_json_error("an invalid or unsupported request (the message and `param` say which)"),
    401: openai_json_error("a valid API key is required (Authorization: Bearer)"),
    404: openai_json_error("an unknown model"),
    **OPENAI_GUARD_ERRORS,
}

def _model() -> ModelOut:
    return ModelOut(id=MODEL_ID, created=STARTED, owned_by="pressroom")


@router.get("/models", response_model=ModelListOut, responses={401: _ERRORS[401]})
def list_models() -> ModelListOut:
    """The models a chat app can pick: one, `pressroom`."""
    return ModelListOut(data=[_model()])


@router.get("/models/{model}", response_model=ModelOut,
            responses={401: _ERRORS[401], 404: _ERRORS[404]})
def get_model(model: str) -> ModelOut:
    if model != MODEL_ID:
        raise HTTPException(404, f"The model {model!r} does not exist: use {MODEL_ID!r}")
    return _model()


def source_url(base: str, c: Citation) -> str:
    """The chat page opened at the quote (the answer highlighted in it)."""
    link = f"{base.rstrip('/')}/#source={c.document_id}:{c.start}-{c.end}"
    if c.answer_start is not None and c.answer_end is not None:
        link += f":{c.answer_start}-{c.answer_end}"
    return link


def message_of(answer: Answer, base: str) -> ChatMessageOut:
    rendered = render(answer)
    annotations = [
        Annotation(url_citation=UrlCitation(
            start_index=m.start, end_index=m.end, title=answer.citations[m.citation].title,
            url=source_url(base, answer.citations[m.citation])))
        for m in rendered.markers
    ]
    return ChatMessageOut(content=rendered.content, annotations=annotations)


def _citations(answer: Answer) -> list[CitationOut]:
    return [CitationOut(**asdict(c)) for c in answer.citations]


def _asker(body: ChatCompletionIn, service: QAService) -> Callable[[], Answer]:
    where = PassageFilter(body.document_ids, body.published_from, body.published_to)
    return functools.partial(ask_in_transcript, service, body.question, body.earlier, where)


@router.post("/chat/completions", response_model=ChatCompletionOut,
             responses={
                 200: {"description": "the answer (or, with `stream`, its events)",
                       "content": {"text/event-stream": {"schema": {
                           "type": "object", "required": ["data"],
                           "properties": {"data": {"type": "string", "description": (
                               "a chat.completion.chunk (JSON), an error (JSON) or [DONE]")}}}}}},
                 **_ERRORS,
             })
async def chat_completions(body: ChatCompletionIn, request: Request,
                           service: Annotated[QAService, Depends(service_dep)]) -> Any:
    """Answer the last user message from the stored articles, OpenAI's Chat Completions wire
    format. `content` is the answer with numbered markers and its sources ("Turkey [1]" ...
    "[1] Title — “quote”"), or "The articles do not say." and the closest passages;
    `message.annotations` are `url_citation`s (each marker's span in `content`, the
    document's title and a link to the quote), and `citations` is /v1/ask's list (offsets
    into the stored document text).

    With `"stream": true` the answer comes as Server-Sent Events, each `data:` a
    `chat.completion.chunk` (the role first, then the content with its `annotations` and the
    top-level `citations`, then `finish_reason: "stop"`), and finally `data: [DONE]`; a failure
    after the stream started is sent as `data: {"error": {...}}`, and lines starting with `:`
    are keep-alive comments. The errors are OpenAI's shape: `{"error": {"message", "type",
    "param", "code"}}`."""
    if body.model != MODEL_ID:
        raise HTTPException(404, f"The model {body.model!r} does not exist: use {MODEL_ID!r} "
                            "(GET /v1/models)")
    service.validate_question(body.question)  # refused before any answering or streaming
    ask = _asker(body, service)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    base = str(request.base_url)
    if body.stream:
        return EventStreamResponse(
            _chunks(ask, completion_id, created, base),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    answer = await run_in_threadpool(ask)
    out = ChatCompletionOut(
        id=completion_id, created=created, model=MODEL_ID,
        choices=[ChoiceOut(message=message_of(answer, base))],
        citations=_citations(answer),
        standalone_question=answer.standalone_question)
    return JSONResponse(out.model_dump(mode="json"))


def _data(payload: dict[str, Any] | str) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


async def _chunks(ask: Callable[[], Answer], completion_id: str,
                  created: int, base: str) -> AsyncIterator[bytes]:
    """The role at once, keep-alives while the question is answered in a worker thread, then
    the content, the stop and [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _data({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                      "model": MODEL_ID, "system_fingerprint": None,
                      "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": finish}], **extra})

    yield chunk({"role": "assistant", "content": ""})
    work = asyncio.ensure_future(run_in_threadpool(ask))
    try:
        while not work.done():
            done, _ = await asyncio.wait({work}, timeout=event_stream.HEARTBEAT_SECONDS)
            if not done:
                yield b": keep-alive\n\n"
        answer = work.result()
    except QuestionError as exc:
        yield _data(openai_error(400, str(exc)))
        yield _data("[DONE]")
        return
    except Exception:
        log.exception("streamed chat completion failed")
        yield _data(openai_error(500, "internal error"))
        yield _data("[DONE]")
        return
    message = message_of(answer, base)
    yield chunk({"content": message.content,
                 "annotations": [a.model_dump(mode="json") for a in message.annotations]},
                citations=[c.model_dump(mode="json") for c in _citations(answer)],
                standalone_question=answer.standalone_question)
    yield chunk({}, "stop")
    yield _data("[DONE]")
