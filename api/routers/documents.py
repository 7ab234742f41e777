"""Documents: add (JSON or file upload), list, get, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from api.deps import require_write_key, service_dep
from api.schemas import (
    GUARD_ERRORS,
    BlockOut,
    BulkIn,
    BulkItemOut,
    BulkOut,
    DocumentCreated,
    DocumentFull,
    DocumentIn,
    DocumentSummary,
    ErrorOut,
    VersionOut,
)
from qa.corpus import DocumentError
from qa.loaders import load_bytes, read_documents
from qa.service import QAService
from qa.storage.documents import DocumentRecord
from qa.structure import Block, BlockKind
from qa.types import NewDocument

router = APIRouter(prefix="/v1/documents", tags=["documents"])

M = TypeVar("M", bound=BaseModel)

_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"model": DocumentCreated, "description": "the same text was already stored "
          "(`created: false`)"},
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 422: {"model": ErrorOut}, **GUARD_ERRORS,
}


def _summary(d: DocumentRecord) -> DocumentSummary:
    return DocumentSummary(id=d.id, title=d.title, url=d.url, published=d.published,
                           passages=d.passage_count, created_at=d.created_at,
                           characters=len(d.text), story_key=d.story_key, current=d.current,
                           superseded_by=d.superseded_by)


async def _uploaded_file(request: Request) -> tuple[UploadFile, FormData]:
    """The multipart form's `file` field, and the form."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "multipart upload needs a 'file' field")
    return upload, form


async def _json_body(request: Request, model: type[M]) -> M:
    """The JSON body validated as `model` (400 for malformed JSON, 422 for a wrong shape)."""
    try:
        payload = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "body is not valid JSON") from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def _documents_from_request(request: Request) -> list[NewDocument]:
    """The documents of an add request. The body is limited by QA_MAX_UPLOAD_BYTES (checked as
    it streams in, see api.guard); the text extracted from it by QA_MAX_DOCUMENT_BYTES, the same
    rule as `qa ingest`."""
    if _is_multipart(request):
        upload, form = await _uploaded_file(request)
        docs = load_bytes(await upload.read(), upload.filename or "upload.txt")
        title = form.get("title")
        if isinstance(title, str) and title.strip() and len(docs) == 1:
            docs = [replace(docs[0], title=title)]
        return docs
    doc = await _json_body(request, DocumentIn)
    return [NewDocument(doc.title, doc.text, doc.url, doc.published, key=doc.key)]


@router.post(
    "",
    status_code=201,
    response_model=DocumentCreated,
    responses=_ERRORS,
    dependencies=[Depends(require_write_key)],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DocumentIn.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"},
                                       "title": {"type": "string"}},
                        "required": ["file"],
                    }
                },
            },
            "required": True,
        }
    },
)
async def add_document(request: Request, response: Response,
                       service: QAService = Depends(service_dep)) -> DocumentCreated:
    """Add an article as JSON `{title, text, url?, published?}` or as an uploaded file
    (text, Markdown, HTML, JSON). Adding the same text again returns the stored document."""
    from starlette.concurrency import run_in_threadpool

    docs = await _documents_from_request(request)
    if len(docs) != 1:
        raise HTTPException(422, f"upload holds {len(docs)} documents: send them to "
                            "POST /v1/documents:bulk, or one per request")
    result = (await run_in_threadpool(service.add_documents, docs))[0]
    if not result.created:
        response.status_code = 200
    d = result.document
    return DocumentCreated(id=d.id, title=d.title, passages=d.passage_count, created=result.created,
                           replaced=result.replaced)


@router.post(
    ":bulk",
    response_model=BulkOut,
    responses={k: v for k, v in _ERRORS.items() if k != 200},
    dependencies=[Depends(require_write_key)],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["documents"], "additionalProperties": False,
                    "properties": {"documents": {
                        "type": "array", "minItems": 1, "maxItems": 1000,
                        "items": DocumentIn.model_json_schema()}}}},
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"],
                               "properties": {"file": {"type": "string", "format": "binary"}}}},
            },
            "required": True,
        }
    },
)
async def add_documents(request: Request,
                        service: QAService = Depends(service_dep)) -> BulkOut:
    """Add many articles in one request: JSON `{"documents": [{title, text, url?, published?},
    ...]}` or an uploaded `.json` / `.jsonl` file (or any single-document file). The same path
    as `qa ingest`: a record that cannot be added (a bad JSONL line, empty text, too large) is
    reported in `results` and the others are added."""
    from starlette.concurrency import run_in_threadpool

    results: list[BulkItemOut] = []
    if _is_multipart(request):
        upload, _ = await _uploaded_file(request)
        name = upload.filename or "upload.jsonl"
        docs, problems, _ = read_documents(await upload.read(), name)
        results += [BulkItemOut(record=str(p).split(": ", 1)[0], error=str(p).split(": ", 1)[-1])
                    for p in problems]
        records = [(d.source or name, d) for d in docs]
    else:
        bulk = await _json_body(request, BulkIn)
        records = [(f"documents[{i}]", NewDocument(d.title, d.text, d.url, d.published, key=d.key))
                   for i, d in enumerate(bulk.documents)]
    ready: list[tuple[str, NewDocument]] = []
    for (record, _), prepared in zip(records, service.corpus.prepare_each(
            [doc for _, doc in records]), strict=True):
        if isinstance(prepared, DocumentError):
            results.append(BulkItemOut(record=record, error=str(prepared)))
        else:
            ready.append((record, prepared))
    added = await run_in_threadpool(service.add_documents, [d for _, d in ready]) if ready else []
    for (record, _), result in zip(ready, added, strict=True):
        d = result.document
        results.append(BulkItemOut(record=record, id=d.id, title=d.title,
                                   passages=d.passage_count, created=result.created))
    return BulkOut(added=sum(1 for r in results if r.created),
                   unchanged=sum(1 for r in results if r.created is False),
                   failed=sum(1 for r in results if r.error), results=results)


@router.get("", response_model=list[DocumentSummary])
def list_documents(service: QAService = Depends(service_dep)) -> list[DocumentSummary]:
    return [_summary(d) for d in service.corpus.documents()]


@router.get("/{document_id}", response_model=DocumentFull, responses={404: {"model": ErrorOut}})
def get_document(document_id: str, service: QAService = Depends(service_dep)) -> DocumentFull:
    d = service.corpus.document(document_id)
    if d is None:
        raise HTTPException(404, f"no document with id {document_id!r}")
    versions = [VersionOut(id=v.id, title=v.title, published=v.published, created_at=v.created_at,
                           current=v.current, superseded_at=v.superseded_at)
                for v in service.corpus.versions(d)]
    blocks = None if d.blocks is None else [
        BlockOut(start=s, end=e, kind=k, indexed=Block(BlockKind(k), s, e, copy).indexed)
        for s, e, k, copy in d.blocks]
    return DocumentFull(**_summary(d).model_dump(), text=d.text, versions=versions,
                        pages=list(d.pages) if d.pages is not None else None, blocks=blocks)


@router.delete("/{document_id}", status_code=204,
               responses={401: {"model": ErrorOut}, 403: GUARD_ERRORS[403], 404: {"model": ErrorOut}},
               dependencies=[Depends(require_write_key)])
def delete_document(document_id: str, service: QAService = Depends(service_dep)) -> Response:
    if not service.delete_document(document_id):
        raise HTTPException(404, f"no document with id {document_id!r}")
    return Response(status_code=204)
