"""Documents: add (JSON or file upload), list, get, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import require_write_key, service_dep
from api.schemas import GUARD_ERRORS, DocumentCreated, DocumentFull, DocumentIn, DocumentSummary, ErrorOut
from embeddings.store import DocumentRecord
from qa.loaders import load_bytes
from qa.service import QAService
from qa.types import NewDocument

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"model": DocumentCreated, "description": "the same text was already stored "
          "(`created: false`)"},
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 422: {"model": ErrorOut}, **GUARD_ERRORS,
}


def _summary(d: DocumentRecord) -> DocumentSummary:
    return DocumentSummary(id=d.id, title=d.title, url=d.url, published=d.published,
                           passages=d.passage_count, created_at=d.created_at,
                           characters=len(d.text))


async def _documents_from_request(request: Request) -> list[NewDocument]:
    """The documents of an add request. The body is limited by QA_MAX_UPLOAD_BYTES (checked as
    it streams in, see api.limits); the text extracted from it by QA_MAX_DOCUMENT_BYTES, the same
    rule as `qa ingest`."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "multipart upload needs a 'file' field")
        docs = load_bytes(await upload.read(), upload.filename or "upload.txt")
        title = form.get("title")
        if isinstance(title, str) and title.strip() and len(docs) == 1:
            docs = [replace(docs[0], title=title)]
        return docs
    try:
        payload = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "body is not valid JSON") from exc
    try:
        doc = DocumentIn.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    return [NewDocument(doc.title, doc.text, doc.url, doc.published)]


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
        raise HTTPException(422, f"upload holds {len(docs)} documents; send one per request")
    result = (await run_in_threadpool(service.add_documents, docs))[0]
    if not result.created:
        response.status_code = 200
    d = result.document
    return DocumentCreated(id=d.id, title=d.title, passages=d.passage_count, created=result.created)


@router.get("", response_model=list[DocumentSummary])
def list_documents(service: QAService = Depends(service_dep)) -> list[DocumentSummary]:
    return [_summary(d) for d in service.corpus.store.list_documents()]


@router.get("/{document_id}", response_model=DocumentFull, responses={404: {"model": ErrorOut}})
def get_document(document_id: str, service: QAService = Depends(service_dep)) -> DocumentFull:
    d = service.corpus.store.get_document(document_id)
    if d is None:
        raise HTTPException(404, f"no document with id {document_id!r}")
    return DocumentFull(**_summary(d).model_dump(), text=d.text)


@router.delete("/{document_id}", status_code=204,
               responses={401: {"model": ErrorOut}, 403: GUARD_ERRORS[403], 404: {"model": ErrorOut}},
               dependencies=[Depends(require_write_key)])
def delete_document(document_id: str, service: QAService = Depends(service_dep)) -> Response:
    if not service.delete_document(document_id):
        raise HTTPException(404, f"no document with id {document_id!r}")
    return Response(status_code=204)
