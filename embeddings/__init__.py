"""Text -> passages -> vectors: sentence splitting, the encoder and the FAISS vector index.

Components here take explicit parameters and know nothing of the database; `qa` wires them
together from its settings (qa/storage keeps what they produce).
"""
