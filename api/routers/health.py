from fastapi import APIRouter, Depends

from api.deps import service_dep
from api.schemas import Health
from qa.service import QAService

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(service: QAService = Depends(service_dep)) -> Health:
    service.corpus.refresh()
    corpus = service.corpus
    return Health(status="ok", documents=len(corpus.document_ids()),
                  passages=corpus.passage_count(), indexed_passages=corpus.indexed_count(),
                  reader=service.reader_name,
                  abstain_threshold=service.abstain_threshold)
