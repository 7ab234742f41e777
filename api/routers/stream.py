"""Asking with progress: the answer streamed as Server-Sent Events.

The question is answered by blocking CPU code; it runs in a worker thread and its stage
notifications reach the (async) event stream through a queue. A client that leaves early only
stops the stream: the worker finishes its question and its late events are dropped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api import event_stream
from api.deps import Chat, require_ask_key
from api.event_stream import EventStreamResponse, sse
from api.schemas import GUARD_ERRORS, AskIn, AskOut, json_error
from qa.chat import ConversationNotFound
from qa.retriever import PassageFilter
from qa.service import QuestionError, describe
from qa.types import Answer

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["ask"])

EVENTS_DOC = """\
Answer a question like `POST /v1/ask` (a turn of the conversation `conversation_id`, or of a
new one), streamed as Server-Sent Events (`text/event-stream`).

Invalid requests are refused with a JSON error *before* any streaming starts (same status codes
and bodies as `/v1/ask`). Otherwise the stream carries, in order:

| event | data (JSON) |
|---|---|
| `stage` | `{"stage": ...}` as each stage starts: `rewriting` (follow-ups only), `searching`, `reading` |
| `answer` | the full answer, exactly the `/v1/ask` response (`AskOut`) |
| `timings` | `{"timings_ms": {...}, "total_ms": ...}`: per-stage and server wall-clock times |
| `error` | `{"error": "..."}` if answering failed (instead of `answer` and `timings`) |
| `done` | `{}`: the stream is complete; a stream that ends without it was cut off |

Lines starting with `:` are keep-alive comments. Example:

```
event: stage
data: {"stage": "searching"}

event: stage
data: {"stage": "reading"}

event: answer
data: {"question": "where did they meet?", "answer": "Turkey", ...}

event: timings
data: {"timings_ms": {"retrieve": 31.2, "read": 350.1}, "total_ms": 384.0}

event: done
data: {}
```
"""

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class Asker:
    """What answers a streamed question: `validate` runs before streaming starts (raising
    QuestionError or ConversationNotFound, so the client gets /v1/ask's JSON error), `ask` runs
    in a worker thread."""

    validate: Callable[[AskIn], None]
    ask: Callable[[AskIn, StageCallback], Answer]


def asker(chat: Chat) -> Asker:
    """The dependency that answers streamed questions, as turns of conversations (tests may
    override it)."""

    def validate(body: AskIn) -> None:
        chat.service.validate_question(body.question)
        if body.conversation_id is not None and not chat.conversation_exists(body.conversation_id):
            raise ConversationNotFound(body.conversation_id)

    def ask(body: AskIn, on_stage: StageCallback) -> Answer:
        where = PassageFilter(body.document_ids, body.published_from, body.published_to,
                              body.include_superseded, body.require_date)
        return chat.ask(body.question, body.conversation_id, body.top_k, where, on_stage=on_stage)

    return Asker(validate, ask)


async def answer_events(body: AskIn, ask: Callable[[AskIn, StageCallback], Answer]
                        ) -> AsyncIterator[bytes]:
    """Run `ask` in a worker thread; yield its stages, then its answer (or error), then done."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    started = time.perf_counter()

    def put(event: str, data: dict[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (event, data))
        except RuntimeError:  # the event loop is gone (server shutting down)
            pass

    def work() -> None:
        try:
            answer = ask(body, lambda stage: put("stage", {"stage": stage}))
            put("answer", AskOut.model_validate(describe(answer)).model_dump(mode="json"))
        except (QuestionError, ConversationNotFound) as exc:
            put("error", {"error": str(exc)})
        except Exception:
            log.exception("streamed question failed")
            put("error", {"error": "internal error"})

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), event_stream.HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event == "answer":
                yield sse("answer", data)
                total = round((time.perf_counter() - started) * 1000, 2)
                yield sse("timings", {"timings_ms": data["timings_ms"], "total_ms": total})
                break
            yield sse(event, data)
            if event == "error":
                break
        yield sse("done", {})
    finally:
        if not worker.done():
            log.debug("stream closed before its worker finished; the worker runs on")


@router.post(
    "/ask/stream",
    response_class=EventStreamResponse,
    dependencies=[Depends(require_ask_key)],
    description=EVENTS_DOC,
    responses={
        200: {
            "description": "a stream of Server-Sent Events (see above)",
            "content": {"text/event-stream": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"event": {"type": "string", "enum": [
                    "stage", "answer", "timings", "error", "done"]},
                    "data": {"type": "string", "description": "JSON, by event (see above)"}}}}},
        },
        400: json_error("malformed JSON"),
        401: json_error("a valid API key is required"),
        404: json_error("unknown or expired `conversation_id`"),
        422: json_error("an invalid question or filter"),
        **GUARD_ERRORS,
    },
)
async def ask_stream(body: AskIn,
                     answerer: Annotated[Asker, Depends(asker)]) -> EventStreamResponse:
    answerer.validate(body)  # refusals are /v1/ask's JSON errors, sent before any streaming
    return EventStreamResponse(answer_events(body, answerer.ask),
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
