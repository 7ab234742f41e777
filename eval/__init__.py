"""Evaluation over gold Q&A data and benchmarks (uses `qa`; nothing imports `eval`)."""
