"""The HTTP API (FastAPI). Uses `qa`; nothing imports `api`."""
