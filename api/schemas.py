"""Pydantic schemas: the API contract."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DocumentIn(BaseModel):
    title: str = Field(..., description="headline or title")
    text: str = Field(..., description="the article text")
    url: str | None = None
    published: str | None = Field(None, description="ISO date, e.g. 2014-10-07")


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


class AskIn(BaseModel):
    question: str = Field(..., description="the question, at most QA_MAX_QUESTION_CHARS characters")
    top_k: int | None = Field(None, ge=1, le=50, description="passages to return")
    document_ids: list[str] | None = Field(None, description="only search these documents")
    published_from: str | None = Field(None, description="only articles published on/after")
    published_to: str | None = Field(None, description="only articles published on/before")
    conversation_id: str | None = Field(None, description="continue this conversation")


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


class Health(BaseModel):
    status: str
    documents: int
    passages: int
    reader: str
