"""Storage: every kind of state the service keeps, each with one owner.

- db.py: the SQLite connection, the one transaction helper and the one "ids" helper
- migrations.py: the schema, as named migrations per namespace, and the runner
- documents.py: the document store (documents, passages, their vectors, FTS5 text)
- conversations.py: the conversation store (conversations and their turns)
- backends/: the passage index (FAISS beside the store, or Milvus), rebuilt from the store

`qa.corpus.Corpus` is the read API over documents and passages for everything above it.
"""
