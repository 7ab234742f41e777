"""`qa migrate-index`: fill another backend's passage index from the store's passages and
stored vectors (nothing is embedded again), then check it holds exactly the store's passages."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from embeddings.encoder import Encoder
from qa.corpus import backend_config
from qa.settings import Settings
from qa.storage.backends import Backend, open_index
from qa.storage.documents import DocumentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    backend: str  # the target's kind, e.g. "milvus FLAT"
    passages: int  # passages the target holds now (= the store's passages with a vector)
    without_vector: int  # passages with no vector of the encoder: embedded when a service starts
    seconds: float

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0


class MigrationError(RuntimeError):
    """The target index does not hold what the store holds after copying."""


def migrate_index(settings: Settings, to: Backend) -> Migration:
    """Copy the passages of the store in `settings.data_dir` (their vectors of the configured
    encoder, their text and filter fields) into the `to` backend's index, adding what it
    lacks and removing what the store does not have: safe to run again, and to run on a
    partly filled index."""
    model = Encoder(settings.encoder_path).name  # the name only: no model is loaded
    store = DocumentStore(settings.db_path)
    try:
        ids = sorted(store.embedded_passage_ids(model))
        without = len(store.passage_ids_without_vector(model))
        found, vectors = store.vectors(ids[:1], model)
        if not len(found):
            raise MigrationError(f"the store at {settings.db_path} has no passages embedded with"
                                 f" {model}: nothing to migrate")
        target = open_index(backend_config(settings.model_copy(update={"backend": to})), store,
                            int(vectors.shape[1]))
        try:
            t0 = time.perf_counter()
            target.repair(store, model)
            target.save()
            seconds = time.perf_counter() - t0
            held = target.ids()
            if held != set(ids):
                raise MigrationError(f"{target.kind} holds {len(held)} passages, the store"
                                     f" {len(ids)}: the copy is incomplete; run it again")
            log.info("migrated %d passages to %s in %.1f s", len(ids), target.kind, seconds)
            return Migration(target.kind, len(held), without, round(seconds, 2))
        finally:
            target.close()
    finally:
        store.close()
