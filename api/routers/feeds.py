"""Feeds: add every entry of an RSS/Atom feed (fetched from its URL, or given inline), or one
news page by URL; the same path as `qa ingest URL` (qa/feeds.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from starlette.concurrency import run_in_threadpool

from api.deps import require_write_key, service_dep, settings_dep
from api.schemas import GUARD_ERRORS, ErrorOut, FeedEntryOut, FeedIn, FeedOut
from qa.corpus import DocumentError
from qa.feeds import FetchError, Gathered, entries_to_documents, gather, read_feed, stored_url
from qa.loaders import LoadError
from qa.service import QAService
from qa.settings import Settings

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "malformed JSON"},
    401: {"model": ErrorOut, "description": "a valid API key is required"},
    422: {"model": ErrorOut, "description": "not an http(s) URL, neither or both of url and "
          "feed, not a feed; or the URL could not be fetched (unreachable, an HTTP error, a "
          "timeout, a content type that is not a page or feed) or is a page without article "
          "text"},
    **GUARD_ERRORS,
    413: {"model": ErrorOut, "description": "the request body is over QA_MAX_UPLOAD_BYTES, or "
          "the page or feed at `url` over QA_FETCH_MAX_BYTES"},
}


def _gather(body: FeedIn, settings: Settings, service: QAService
            ) -> tuple[Gathered, Literal["feed", "page"]]:
    """The entries of the request's feed or page (fetched here), and its kind."""
    known = stored_url(service.corpus.find_story)
    if body.feed is not None:
        try:
            # the XML arrived as JSON text: its own encoding declaration no longer holds
            entries = read_feed(body.feed.encode("utf-8"), "feed",
                                "application/xml; charset=utf-8")
        except LoadError as exc:
            raise HTTPException(422, str(exc)) from exc
        return Gathered(entries_to_documents(entries, settings, known=known, source="feed")), "feed"
    assert body.url is not None
    gathered = gather([body.url], settings, known=known)
    if gathered.problems:  # the URL itself could not be fetched or read
        problem = gathered.problems[0]
        too_large = isinstance(problem, FetchError) and problem.too_large
        raise HTTPException(413 if too_large else 422, str(problem))
    return gathered, "page" if any(e.page for e in gathered.entries) else "feed"


@router.post("", response_model=FeedOut, responses=_ERRORS,
             dependencies=[Depends(require_write_key)])
async def add_feed(body: FeedIn, settings: Settings = Depends(settings_dep),
                   service: QAService = Depends(service_dep)) -> FeedOut:
    """Add each entry of a feed: `{"url": ...}` (an RSS/Atom feed, or a news page: one
    article) or `{"feed": "<rss>..."}`. Each entry's link is fetched once (a link already
    stored is not fetched again) and its page added; each entry is reported with its status
    (`added`, `already_ingested`, `failed` with the reason) and document id."""
    gathered, kind = await run_in_threadpool(_gather, body, settings, service)
    pending = gathered.pending
    ready = []
    for outcome, prepared in zip(pending, service.corpus.prepare_each(
            [o.document for o in pending if o.document is not None]), strict=True):
        if isinstance(prepared, DocumentError):
            outcome.fail(str(prepared))
        else:
            ready.append((outcome, prepared))
    if ready:
        results = await run_in_threadpool(service.add_documents, [d for _, d in ready])
        for (outcome, _), result in zip(ready, results, strict=True):
            outcome.settle(result)
    gathered.resolve_repeats()
    entries = [FeedEntryOut(link=e.link, title=e.title, status=e.status or "failed",
                            reason=e.reason, note=e.note, document_id=e.document_id)
               for e in gathered.entries]
    return FeedOut(source=body.url or "feed", kind=kind,
                   added=sum(e.status == "added" for e in entries),
                   already_ingested=sum(e.status == "already_ingested" for e in entries),
                   failed=sum(e.status == "failed" for e in entries), entries=entries)
