from fastapi import APIRouter, Depends

from api.deps import service_dep
from api.schemas import Health
from qa.service import QAService

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(service: QAService = Depends(service_dep)) -> Health:
    service.corpus.refresh()
    return Health(status="ok", documents=len(service.corpus.store.document_ids()),
                  passages=service.corpus.store.passage_count(),
                  indexed_passages=len(service.corpus.index), reader=service.reader_name,
                  abstain_threshold=service.abstain_threshold)
