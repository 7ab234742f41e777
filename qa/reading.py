"""Read: the reader stage. The passages retrieved are widened by whole sentences (more context),
read by the reader in use (the trained neural reader, else the rule-based extractor), and
re-ranked by how strongly each answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.corpus import Corpus
from qa.extractor import RuleExtractor
from qa.reader import NeuralReader, Reader, shared_neural_reader
from qa.settings import Settings
from qa.types import ReaderResult, RetrievedPassage

log = logging.getLogger(__name__)


def uses_neural_reader(settings: Settings) -> bool:
    """Whether these settings answer with the trained reader (else the rule-based extractor)."""
    return settings.reader == "neural" and NeuralReader.available(settings.reader_path)


def rerank_by_reader(passages: list[RetrievedPassage],
                     scores: dict[int, float]) -> list[RetrievedPassage]:
    """Passages the reader scored first (most answer-bearing first), then the rest in order."""
    read = sorted((p for p in passages if p.passage_id in scores),
                  key=lambda p: -scores[p.passage_id])
    return read + [p for p in passages if p.passage_id not in scores]


@dataclass(frozen=True)
class Reading:
    """What the read stage returns: every passage retrieved (those read as the reader saw them,
    widened; re-ranked by the reader when so set), the passages read by id, and the reader's
    result as it came (the answer policy screens it)."""

    passages: list[RetrievedPassage]
    as_read: dict[int, RetrievedPassage]
    result: ReaderResult


class ReadStage:
    """`reader` replaces the one the settings name; by default it is chosen (and the neural
    one loaded, once per process) on first use."""

    def __init__(self, corpus: Corpus, settings: Settings, reader: Reader | None = None):
        self.corpus = corpus
        self.settings = settings
        self._reader = reader

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            s = self.settings
            if uses_neural_reader(s):
                self._reader = shared_neural_reader(s.reader_path, s.torch_threads,
                                                    s.reader_retrieval_weight, s.caption_weight)
            else:
                if s.reader == "neural":
                    log.warning("no trained reader found; using the rule-based extractor")
                self._reader = RuleExtractor(self.corpus.encoder)
        return self._reader

    def warm_up(self) -> None:
        """Load the reader's model now, so the first question is fast."""
        if isinstance(self.reader, NeuralReader):
            self.reader.load()

    def widen(self, passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
        """`passages` as the reader reads them: widened by read_expand_sentences, to at most
        twice a stored passage's size."""
        s = self.settings
        return self.corpus.expand(passages, s.read_expand_sentences, 2 * s.passage_max_chars)

    def run(self, query: str, passages: list[RetrievedPassage]) -> Reading:
        """Read the first `read_passages` of `passages` (widened) for `query`."""
        s = self.settings
        read = self.widen(passages[: s.read_passages])
        result = self.reader.read(query, read)
        # The passages returned are those the reader saw (widened ones included), so that a
        # citation always lies inside the passage it names.
        as_read = {p.passage_id: p for p in read}
        passages = [as_read.get(p.passage_id, p) for p in passages]
        if s.rerank == "reader" and result.passage_scores:
            passages = rerank_by_reader(passages, result.passage_scores)
        return Reading(passages, as_read, result)
