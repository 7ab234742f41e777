"""Pydantic schemas: the API contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

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


# At least one visible character (what is left after qa.text's cleaning must not be empty),
# and no NUL (binary data, refused on every route).
_INVISIBLE = r"\s\x00-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
VISIBLE = rf"^[^\x00]*[^{_INVISIBLE}][^\x00]*$"
MAX_ID_CHARS = 64
DocumentId = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)]
MAX_QUESTION_CHARS = get_settings().max_question_chars


class CleanInput(BaseModel):
    """A request body whose strings had unpaired surrogates replaced (qa.text) before
    validation: such JSON is accepted and cleaned the same way on every route. Unknown fields
    are refused, so a misspelt filter is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_surrogates(cls, data: Any) -> Any:
        return replace_surrogates(data)


class DocumentIn(CleanInput):
    title: str = Field(..., min_length=1, max_length=1000, pattern=VISIBLE,
                       description="headline or title")
    text: str = Field(..., min_length=1, pattern=VISIBLE,
                      description="the article text (at most QA_MAX_DOCUMENT_BYTES as UTF-8)")
    url: str | None = Field(None, max_length=2048)
    published: str | None = Field(
        None, json_schema_extra={"format": "date"},
        description="publication date: an ISO date (also accepted: 2014-10, a datetime, a "
        "written date such as '7 October 2014'); stored as an ISO date")
    key: str | None = Field(
        None, min_length=1, max_length=2048, pattern=VISIBLE,
        description="the story's identity (default: `url`): new text under a key already "
        "stored is a new version of that story, and the old version is superseded")

    _published = field_validator("published")(_iso_date)

    @field_validator("text", mode="before")
    @classmethod
    def _not_binary(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("binary data (NUL characters), not text")
        return value


class BulkIn(CleanInput):
    documents: list[DocumentIn] = Field(..., min_length=1, max_length=1000,
                                        description="at most 1,000 documents")


class BulkItemOut(BaseModel):
    record: str = Field(..., description="which record: documents[i], or FILE:LINE / FILE[i]")
    id: str | None = None
    title: str | None = None
    passages: int | None = None
    created: bool | None = Field(None, description="false when the same text was already stored")
    error: str | None = Field(None, description="why this record was not added")


class BulkOut(BaseModel):
    added: int
    unchanged: int
    failed: int
    results: list[BulkItemOut] = Field(..., description="one per record, in order")


class FeedIn(CleanInput):
    """Exactly one of `url` (a feed or a news page, fetched) and `feed` (a feed's XML)."""

    url: str | None = Field(None, min_length=1, max_length=2048,
                            json_schema_extra={"format": "uri",
                                               "pattern": "^\\s*[Hh][Tt][Tt][Pp][Ss]?://"},
                            description="an http(s) URL: an RSS/Atom feed (each entry's page is "
                            "added) or a news page (one article)")
    feed: str | None = Field(None, min_length=1, pattern=VISIBLE,
                             description="an RSS or Atom feed's XML itself (each entry's page "
                             "is fetched and added)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from qa.feeds import FetchError, check_url

        try:
            return check_url(value)
        except FetchError as exc:
            raise ValueError(exc.reason) from exc

    @model_validator(mode="after")
    def _one_source(self) -> FeedIn:
        if (self.url is None) == (self.feed is None):
            raise ValueError("give exactly one of 'url' (a feed or page to fetch) and 'feed' "
                             "(the feed's XML)")
        return self


class FeedEntryOut(BaseModel):
    link: str = Field(..., description="the entry's link (the document's url), or the page's "
                      "URL; FEED[i] for an entry without a link")
    title: str | None = None
    status: Literal["added", "already_ingested", "failed"] = Field(
        ..., description="added; already_ingested (a document with this URL or this text is "
        "stored, or the link came earlier in the feed: nothing was fetched again); failed")
    reason: str | None = Field(None, description="why it failed or was already ingested")
    note: str | None = Field(None, description="e.g. that the page could not be read and the "
                             "feed's own text of the entry was stored instead")
    document_id: str | None = None


class FeedOut(BaseModel):
    source: str = Field(..., description="the URL, or `feed` for inline XML")
    kind: Literal["feed", "page"]
    added: int
    already_ingested: int
    failed: int
    entries: list[FeedEntryOut] = Field(..., description="one per entry, in the feed's order")


class DocumentCreated(BaseModel):
    id: str
    title: str
    passages: int
    created: bool = Field(True, description="false when the same text was already stored")
    replaced: str | None = Field(None, description="the id of the earlier version of the same "
                                 "story (same key or URL) that this one supersedes")


class DocumentSummary(BaseModel):
    id: str
    title: str
    url: str | None
    published: str | None
    passages: int
    created_at: str
    characters: int
    story_key: str | None = Field(None, description="the story's identity: its key, URL or "
                                  "file path")
    current: bool = Field(True, description="false once a newer version of the story was added")
    superseded_by: str | None = Field(None, description="the id of the version that replaced "
                                      "this one")


class VersionOut(BaseModel):
    id: str
    title: str
    published: str | None
    created_at: str
    current: bool
    superseded_at: str | None


class BlockOut(BaseModel):
    start: int
    end: int
    kind: str = Field(..., description="headline, standfirst, byline, dateline, body, caption "
                      "or boilerplate")
    indexed: bool = Field(..., description="whether its text is searched (boilerplate and "
                          "repeats of an earlier line are not)")


class DocumentFull(DocumentSummary):
    text: str
    pages: list[tuple[int, int]] | None = Field(None, description="each page's [start, end) "
                                                "character range in `text` (a PDF's pages), "
                                                "in order")
    blocks: list[BlockOut] | None = Field(None, description="the article's lines, typed at "
                                          "ingest, in order; null for documents added before "
                                          "lines were typed or with QA_ARTICLE_STRUCTURE off")
    versions: list[VersionOut] = Field(..., description="every version of the story, oldest "
                                       "first (this one among them)")


class AskIn(CleanInput):
    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, pattern=VISIBLE,
                          description="the question, at most QA_MAX_QUESTION_CHARS characters")
    top_k: int | None = Field(None, ge=1, le=50, description="passages to return")
    document_ids: list[DocumentId] | None = Field(
        None, max_length=MAX_DOCUMENT_IDS,
        description=f"only search these documents (at most {MAX_DOCUMENT_IDS})")
    published_from: str | None = Field(None, json_schema_extra={"format": "date"},
                                       description="only articles published on/after this date "
                                       "(the same forms as a document's `published`)")
    published_to: str | None = Field(None, json_schema_extra={"format": "date"},
                                     description="only articles published on/before this date")
    conversation_id: str | None = Field(None, max_length=MAX_ID_CHARS,
                                        description="continue this conversation")
    include_superseded: bool = Field(
        False, description="also answer from superseded versions of stories (they are left "
        "out by default, unless named in document_ids)")
    require_date: bool = Field(
        False, description="leave out undated articles (by default they pass the "
        "published_from / published_to limits, since their date is unknown)")

    _dates = field_validator("published_from", "published_to")(_iso_date)

    @field_validator("top_k", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON true is not a number, whatever Python thinks
            raise ValueError("top_k must be an integer")
        return value


class CitationOut(BaseModel):
    document_id: str
    title: str
    passage_id: int
    start: int
    end: int
    quote: str
    answer_start: int | None
    answer_end: int | None
    published: str | None = Field(None, description="the document's publication date: the "
                                  "answer is as of this date")
    page: int | None = Field(None, description="the page (from 1) the quote is on, for a "
                             "document with pages (a PDF)")
    block: str | None = Field(None, description="the kind of article line quoted: body, "
                              "caption (a photo caption), headline, standfirst, byline or "
                              "dateline; null for documents added before lines were typed")


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
    block: str = Field("body", description="body; head: headline, standfirst, byline or "
                       "dateline; caption: a passage of photo captions")


class AlternativeOut(BaseModel):
    answer: str = Field(..., description="what these sources say instead")
    confidence: float = Field(..., description="the reader's confidence in it")
    citations: list[CitationOut] = Field(..., description="one per document saying it")
    published: str | None = Field(None, description="its newest source's publication date")
    superseded: bool = Field(..., description="its sources were replaced by newer versions of "
                             "their stories")
    status: Literal["superseded", "corrected", "earlier", "unsettled"] = Field(
        ..., description="where it stands: its sources superseded, corrected since, an earlier "
        "report than the answer's, or not settled (as recent, or undated)")
    corrected: bool = Field(..., description="a later correction notice among the answer's "
                            "sources says otherwise")


class SourceOut(BaseModel):
    document_id: str
    title: str
    url: str | None
    published: str | None


class AnswerDateOut(BaseModel):
    text: str = Field(..., description="the answer's words naming the date, as written")
    value: str | None = Field(None, description="a day (YYYY-MM-DD), month (YYYY-MM) or year "
                              "(YYYY); null for a range")
    first: str | None = Field(None, description="a range's first day (\"last week\", \"over "
                              "the summer\")")
    last: str | None = Field(None, description="a range's last day")


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
    as_of: str | None = Field(None, description="the publication date of the answer's source")
    agreement: list[CitationOut] = Field(
        default_factory=list, description="other articles giving the same answer (so "
        "1 + len(agreement) articles agree)")
    disagreement: list[AlternativeOut] | None = Field(
        None, description="what other articles say instead, when they disagree with the "
        "answer (a newer report's value is the answer); null when they agree or one speaks")
    notice: str | None = Field(None, description="e.g. that no article matches the filters")
    date: AnswerDateOut | None = Field(None, description="the date the answer names, "
                                       "normalized against its article's publication date")
    also_reported_by: list[SourceOut] = Field(
        default_factory=list, description="near-duplicates of the cited article (the same "
        "wire copy under another headline, trimmed...): the other outlets that ran it")


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


def json_error(description: str) -> dict[str, Any]:
    """An error response documented as JSON `ErrorOut` whatever the route's own media type (the
    event stream's refusals are JSON)."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


# What api.guard refuses on every write and question, before a router runs.
GUARD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: json_error("a cross-site request from a browser"),
    413: json_error("the request body is over its limit"),
    415: json_error("the body is not JSON (or multipart, for files)"),
}


class Health(BaseModel):
    status: str
    documents: int
    passages: int = Field(..., description="passages in the store")
    indexed_passages: int = Field(..., description="passages in this process's vector index "
                                  "(equal to `passages` once it has caught up with other writers)")
    reader: str
    abstain_threshold: float = Field(..., description="answers need at least this confidence "
                                     "(the reader's calibrated estimate that they are exactly right)")
