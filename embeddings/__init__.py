"""Text -> passages -> vectors: sentence splitting, the encoder, the FAISS index, the SQLite store.

Components here take explicit parameters; `qa` wires them together from its settings.
"""
