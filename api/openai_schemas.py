"""The OpenAI-compatible contract: Chat Completions requests and responses, models, and OpenAI's
error shape, which every refusal on these routes takes (api.app, api.guard) so that OpenAI
clients show it.

Requests are as strict as the rest of the API and say why: a parameter Pressroom cannot honour
(`n` > 1, tools, images, JSON output) is refused with a 400 naming it, harmless ones
(`temperature`, `max_tokens`, ...) are accepted and ignored, and an unknown one is refused as
OpenAI refuses it ("Unrecognized request argument supplied")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from api.schemas import MAX_DOCUMENT_IDS, MAX_QUESTION_CHARS, VISIBLE, CitationOut, DocumentId, _iso_date
from qa.text import replace_surrogates

MODEL_ID = "pressroom"
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")


def speaks_openai(path: str) -> bool:
    """Whether `path` is one of the OpenAI-compatible routes (their errors take OpenAI's shape)."""
    return path in OPENAI_PATHS or path.startswith("/v1/models/")


_CODES = {401: "invalid_api_key", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "request_too_large", 415: "unsupported_media_type"}


def openai_error(status: int, message: str, param: str | None = None,
                 code: str | None = None) -> dict[str, Any]:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": code if code is not None else _CODES.get(status)}}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(..., description="invalid_request_error or server_error")
    param: str | None = Field(None, description="the request field at fault, when one is")
    code: str | None = None


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail


def openai_json_error(description: str) -> dict[str, Any]:
    """A response documented as OpenAI's error body (the model registers its schema)."""
    return {"description": description, "model": OpenAIErrorOut}


# What api.guard refuses before a router runs, in OpenAI's shape on these routes.
OPENAI_GUARD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: openai_json_error("a cross-site request from a browser"),
    413: openai_json_error("the request body is over its limit"),
    415: openai_json_error("the body is not JSON"),
}

# Parameters of OpenAI's API that Pressroom cannot honour, with the reason given back.
UNSUPPORTED = {
    "tools": "tools are not supported: Pressroom answers from its articles and calls no tools",
    "tool_choice": "tools are not supported: Pressroom answers from its articles and calls no tools",
    "functions": "functions are not supported: Pressroom answers from its articles and calls none",
    "function_call": "functions are not supported: Pressroom answers from its articles and calls "
                     "none",
    "audio": "audio output is not supported: Pressroom answers in text",
    "modalities": "only text is supported (leave out `modalities`)",
    "prediction": "predicted outputs are not supported",
    "top_logprobs": "log probabilities are not supported",
    "web_search_options": "web search is not supported: Pressroom answers from its own articles",
}


class _Strict(BaseModel):
    """Unknown fields refused, no type coercion (JSON 0 is not false), unpaired surrogates
    cleaned as on every route."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        return replace_surrogates(data)


class TextPart(_Strict):
    type: Literal["text"]
    text: str


def _text_parts_only(value: Any) -> Any:
    """A clear refusal for content parts that are not text (images, audio, files)."""
    if isinstance(value, list):
        for part in value:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind is not None and kind != "text":
                raise ValueError(f"content of type {kind!r} is not supported: Pressroom reads "
                                 "text questions only")
    return value


def _whole(value: Any) -> Any:
    """JSON has one number type: 2.0 is the integer 2 (strict validation then refuses the rest)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
Count = Annotated[int, Field(ge=1), BeforeValidator(_whole)]  # this order: "minimum" in the schema

Question = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS,
                                            pattern=VISIBLE)]


class QuestionPart(_Strict):
    type: Literal["text"]
    text: Question


class SystemMessage(_Strict):
    """Accepted and ignored: answers come from the articles, not from instructions."""

    role: Literal["system", "developer"]
    content: str | list[TextPart]
    name: str | None = None

    _parts = field_validator("content", mode="before")(_text_parts_only)


class UserMessage(_Strict):
    """A question (the last one is asked; earlier ones are the conversation)."""

    role: Literal["user"]
    content: Question | Annotated[list[QuestionPart], Field(min_length=1, max_length=1)] = Field(
        ..., description="the question: text, or one text part (at most QA_MAX_QUESTION_CHARS "
        "characters)")
    name: str | None = None

    _parts = field_validator("content", mode="before")(_text_parts_only)

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else self.content[0].text


class AssistantMessage(_Strict):
    """An earlier answer (the text this server wrote, or any other)."""

    role: Literal["assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    refusal: str | None = None

    _parts = field_validator("content", mode="before")(_text_parts_only)

    @model_validator(mode="before")
    @classmethod
    def _no_tool_calls(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("tool_calls" in data or "function_call" in data):
            raise ValueError("tool calls are not supported: Pressroom answers from its articles")
        return data

    @property
    def text(self) -> str | None:
        if self.content is None or isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content)


Message = Annotated[SystemMessage | UserMessage | AssistantMessage, Field(discriminator="role")]


class StreamOptions(_Strict):
    include_usage: bool | None = Field(None, description="accepted; usage is not reported")
    include_obfuscation: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text"] = Field(..., description="only text (JSON output is not supported)")


class ChatCompletionIn(_Strict):
    model: str = Field(..., max_length=256, description=f"`{MODEL_ID}` (GET /v1/models); "
                       "another is a 404", json_schema_extra={"enum": [MODEL_ID]})
    messages: list[Message] = Field(
        ..., min_length=1,
        description="the conversation, oldest first: the last user message is the question, "
        "earlier user/assistant turns are what follow-ups are resolved against; system "
        "messages are accepted and ignored",
        json_schema_extra={"contains": {"type": "object", "required": ["role"],
                                        "properties": {"role": {"const": "user"}}}})
    stream: bool | None = Field(None, description="answer as `chat.completion.chunk` events")
    stream_options: StreamOptions | None = None
    n: WholeNumber | None = Field(None, description="only 1", json_schema_extra={"minimum": 1, "maximum": 1})
    # Accepted and ignored: an extractive answer has no sampling or length to set.
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: Count | None = None
    max_completion_tokens: Count | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    stop: str | list[str] | None = None
    seed: WholeNumber | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    service_tier: str | None = None
    logprobs: bool | None = Field(None, description="only false",
                                  json_schema_extra={"enum": [False, None]})
    response_format: ResponseFormat | None = None
    # Pressroom's own filters (as on /v1/ask), e.g. the openai client's `extra_body`.
    document_ids: list[DocumentId] | None = Field(
        None, max_length=MAX_DOCUMENT_IDS,
        description=f"only search these documents (at most {MAX_DOCUMENT_IDS})")
    published_from: str | None = Field(None, json_schema_extra={"format": "date"},
                                       description="only articles published on/after this date")
    published_to: str | None = Field(None, json_schema_extra={"format": "date"},
                                     description="only articles published on/before this date")

    _dates = field_validator("published_from", "published_to")(_iso_date)

    @model_validator(mode="before")
    @classmethod
    def _supported(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, why in UNSUPPORTED.items():
            if name in data:
                raise ValueError(why)
        if data.get("logprobs") is True:
            raise ValueError("log probabilities are not supported (logprobs must be false)")
        n = _whole(data.get("n"))
        if isinstance(n, int) and not isinstance(n, bool) and n != 1:
            raise ValueError("only n=1 is supported: an extractive answer has no alternatives")
        messages = data.get("messages")
        if isinstance(messages, list):
            for m in messages:
                role = m.get("role") if isinstance(m, dict) else None
                if role in ("tool", "function"):
                    raise ValueError(f"{role} messages are not supported: Pressroom calls no tools")
            if messages and not any(isinstance(m, dict) and m.get("role") == "user"
                                    for m in messages):
                raise ValueError("messages need a user message: the last one is the question")
        return data

    @property
    def question(self) -> str:
        """The last user message."""
        return next(m.text for m in reversed(self.messages) if isinstance(m, UserMessage))

    @property
    def earlier(self) -> list[tuple[str, str | None]]:
        """The (question, reply) turns before the last user message, oldest first."""
        last = max(i for i, m in enumerate(self.messages) if isinstance(m, UserMessage))
        turns: list[tuple[str, str | None]] = []
        for m in self.messages[:last]:
            if isinstance(m, UserMessage):
                turns.append((m.text, None))
            elif isinstance(m, AssistantMessage) and turns and turns[-1][1] is None:
                turns[-1] = (turns[-1][0], m.text)
        return turns


class UrlCitation(BaseModel):
    start_index: int = Field(..., description="where the marker starts in `content`")
    end_index: int = Field(..., description="where it ends")
    title: str
    url: str = Field(..., description="the chat page, opened at the quote")


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(..., description="the answer, numbered markers and a sources list")
    refusal: None = None
    annotations: list[Annotation]


class ChoiceOut(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: None = Field(None, description="not reported (no tokens are generated)")
    system_fingerprint: None = None
    citations: list[CitationOut] = Field(..., description="exactly /v1/ask's citations: offsets "
                                         "into the stored document text")
    standalone_question: str | None = Field(None, description="what was searched (follow-ups "
                                            "resolved against the earlier turns)")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
