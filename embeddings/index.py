"""The FAISS vector index now lives with the other passage-index backends
(embeddings/backends/faiss_index.py); this name is kept for existing imports."""

from embeddings.backends.faiss_index import VectorIndex

__all__ = ["VectorIndex"]
