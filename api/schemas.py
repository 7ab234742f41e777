"""Pydantic schemas: the API contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from qa.dates import DateError, parse_date
from qa.settings import get_settings
from qa.text import replace_surrogates

# Documented maximum of AskIn.document_ids (QA_MAX_DOCUMENT_IDS may lower or raise it).
MAX_DOCUMENT_IDS = get_settings().max_document_ids


def _iso_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except DateError as exc:
        raise ValueError(str(exc)) from exc


class CleanInput(BaseModel):
    """A request body whose strings had unpaired surrogates replaced (qa.text) before
    validation: such JSON is accepted and cleaned the same way on every route."""

    @model_validator(mode="before")
    @classmethod
    def _no_surrogates(cls, data: Any) -> Any:
        return replace_surrogates(data)


class DocumentIn(CleanInput):
    title: str = Field(..., min_length=1, description="headline or title")
    text: str = Field(..., min_length=1, description="the article text")
    url: str | None = None
    published: str | None = Field(
        None, description="publication date: ISO 8601 (2014-10-07, 2014-10, a datetime) or a "
        "written date ('7 October 2014'); stored as an ISO date")

    _published = field_validator("published")(_iso_date)


class DocumentCreated(BaseModel):
    id: str
    title: str
    passages: int
    created: bool = Field(True, description="false when the same text was already stored")


class DocumentSummary(BaseModel):
    id: str
    title: str
    url: str | None
    published: str | None
    passages: int
    created_at: str
    characters: int


class DocumentFull(DocumentSummary):
    text: str


class AskIn(CleanInput):
    question: str = Field(..., min_length=1,
                          description="the question, at most QA_MAX_QUESTION_CHARS characters")
    top_k: int | None = Field(None, ge=1, le=50, description="passages to return")
    document_ids: list[str] | None = Field(
        None, max_length=MAX_DOCUMENT_IDS,
        description=f"only search these documents (at most {MAX_DOCUMENT_IDS})")
    published_from: str | None = Field(None, description="only articles published on/after "
                                       "this ISO date")
    published_to: str | None = Field(None, description="only articles published on/before "
                                     "this ISO date")
    conversation_id: str | None = Field(None, description="continue this conversation")

    _dates = field_validator("published_from", "published_to")(_iso_date)


class CitationOut(BaseModel):
    document_id: str
    title: str
    passage_id: int
    start: int
    end: int
    quote: str
    answer_start: int | None
    answer_end: int | None


class PassageOut(BaseModel):
    document_id: str
    passage_id: int
    title: str
    start: int
    end: int
    text: str
    score: float
    similarity: float | None = Field(None, description="cosine to the question, when dense "
                                     "search found the passage")
    probability: float | None = Field(None, description="the learned re-scorer's probability "
                                      "that the passage holds the answer")


class AskOut(BaseModel):
    question: str
    answer: str | None = Field(..., description="null when the articles do not say")
    confidence: float
    no_answer_probability: float
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]
    standalone_question: str | None = None
    conversation_id: str | None = None


class TurnOut(BaseModel):
    turn: int = Field(..., description="1 for the first question of the conversation")
    question: str = Field(..., description="the question as asked")
    standalone_question: str = Field(..., description="what was searched (follow-ups resolved)")
    answer: str | None = Field(..., description="null when the articles did not say")
    citations: list[CitationOut]
    created_at: str


class ConversationOut(BaseModel):
    id: str
    created_at: str
    updated_at: str
    expires_at: str = Field(..., description="when it expires unless continued")
    turns: list[TurnOut]


class ErrorOut(BaseModel):
    error: str
    detail: str | list | None = None


# What api.guard refuses on every write and question, before a router runs.
GUARD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "a cross-site request from a browser"},
    413: {"model": ErrorOut, "description": "the request body is over its limit"},
    415: {"model": ErrorOut, "description": "the body is not JSON (or multipart, for files)"},
}


class Health(BaseModel):
    status: str
    documents: int
    passages: int = Field(..., description="passages in the store")
    indexed_passages: int = Field(..., description="passages in this process's vector index "
                                  "(equal to `passages` once it has caught up with other writers)")
    reader: str
