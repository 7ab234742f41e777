"""Hybrid retrieval: dense and lexical (BM25) rankings from the passage index (FAISS + SQLite
FTS5, or Milvus: embeddings/backends) fused by reciprocal rank fusion, the fused top re-scored
(by a learned model, or by the best sentence's similarity to the question), with optional
document and date filters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from qa.corpus import Corpus
from qa.numeric import sigmoid
from qa.ranker import (
    FEATURE_SETTINGS,
    LinearRanker,
    QueryTerms,
    candidate_features,
    shared_ranker,
)
from qa.settings import Settings
from qa.storage.backends import IndexFilter
from qa.timing import StageTimer
from qa.types import RetrievedPassage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassageFilter:
    document_ids: list[str] | None = None
    published_from: str | None = None
    published_to: str | None = None
    # Superseded versions of a story are left out unless asked for, by this or by naming them
    # in document_ids.
    include_superseded: bool = False
    # Undated documents pass date limits (their date is unknown) unless this is set.
    require_date: bool = False

    @property
    def active(self) -> bool:
        return bool(self.document_ids is not None or self.published_from or self.published_to
                    or self.require_date)

    def admits(self, document_id: str, published: str | None, current: bool = True) -> bool:
        """Whether a document passes the filter, as the index applies it to passages: undated
        documents pass a date limit unless `require_date`; a shorter `published_to` ("2024-05")
        covers all of it; superseded versions only when asked for."""
        if self.document_ids is not None and document_id not in self.document_ids:
            return False
        if not current and not (self.include_superseded or self.document_ids is not None):
            return False
        if published is None:
            return not self.require_date
        if self.published_from and published < self.published_from:
            return False
        return not (self.published_to and published[: len(self.published_to)] > self.published_to)

    def describe(self) -> str:
        """The filter in words, for saying that nothing matched it."""
        parts = []
        if self.document_ids is not None:
            parts.append(f"among the {len(self.document_ids)} documents named")
        if self.published_from:
            parts.append(f"published on or after {self.published_from}")
        if self.published_to:
            parts.append(f"published on or before {self.published_to}")
        if self.require_date and not (self.published_from or self.published_to):
            parts.append("with a publication date")
        return ", ".join(parts)


def reciprocal_rank_fusion(
    rankings: list[list[int]], weights: list[float], k: int
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum of weight / (k + rank), rank starting at 1."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def rescore_by_sentence(passages: list[RetrievedPassage], best_sentence: dict[int, float],
                        weight: float) -> list[RetrievedPassage]:
    """Fused passages re-ordered by score + weight * their best sentence's cosine to the
    question: a passage with one sentence that matches the question closely rises above one
    that matches loosely throughout (a question is usually answered by one sentence). A
    passage without sentence vectors (stored before re-scoring was on, until they are
    embedded) uses its passage cosine, so it is not pushed down for lack of them."""
    def bonus(p: RetrievedPassage) -> float:
        found = best_sentence.get(p.passage_id, p.similarity)
        return weight * (found if found is not None else 0.0)

    rescored = [replace(p, score=p.score + bonus(p)) for p in passages]
    return sorted(rescored, key=lambda p: -p.score)


def rescore_learned(passages: list[RetrievedPassage], log_odds: np.ndarray
                    ) -> list[RetrievedPassage]:
    """Passages ordered by the learned re-scorer; each score becomes its probability that the
    passage holds the answer."""
    probabilities = [sigmoid(float(z)) for z in log_odds]
    rescored = [replace(p, score=prob, probability=prob)
                for p, prob in zip(passages, probabilities, strict=True)]
    return sorted(rescored, key=lambda p: -p.score)


@dataclass(frozen=True)
class Candidates:
    """The first stage's result: fused passages, the query vector (None when dense search was
    off) and the BM25 score of each passage found lexically."""

    passages: list[RetrievedPassage]
    vector: np.ndarray | None
    bm25: dict[int, float]


def distinct_texts(passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
    """The passages in order, less any whose text an earlier one already has (the same wire
    copy in two outlets' articles): the reader reads it once; the other outlets are named in
    the answer's `also_reported_by`."""
    seen: set[str] = set()
    out = []
    for p in passages:
        key = " ".join(p.text.split())
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


class FirstStage:
    """Retrieve, the first stage: dense and lexical search of the corpus, fused by reciprocal
    rank fusion, within a filter; nothing re-scored yet."""

    def __init__(self, corpus: Corpus, settings: Settings):
        self.corpus = corpus
        self.settings = settings

    def warm_up(self) -> None:
        """Open the index and load the encoder now, so the first question is fast."""
        self.corpus.open()
        self.corpus.encoder.encode(["warm up"])

    def run(
        self,
        query: str,
        top_k: int,
        where: PassageFilter | None = None,
        timer: StageTimer | None = None,
    ) -> Candidates:
        timer = timer or StageTimer()
        s = self.settings
        depth = max(s.candidates, top_k)
        excluded: frozenset[int] = frozenset()
        if where is None or not (where.include_superseded or where.document_ids is not None):
            excluded = self.corpus.superseded_passages()
        allowed = None  # a filter the index applies, superseded passages left out by it too
        if where is not None and where.active:
            allowed = IndexFilter(where.document_ids, where.published_from, where.published_to,
                                  where.require_date, excluded)
            excluded = frozenset()
        # Unfiltered, superseded passages are dropped from each list: ask deeper to make up.
        fetch = depth + min(len(excluded), depth)
        vector = None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if s.fusion in ("rrf", "dense"):
            with timer.stage("embed_query"):
                vector = self.corpus.encoder.encode([query])[0]
            with timer.stage("dense_search"):
                dense = self.corpus.dense_search(vector, fetch, allowed)
        if s.fusion in ("rrf", "lexical"):
            with timer.stage("lexical_search"):
                lexical = self.corpus.lexical_search(query, fetch, allowed)
        if excluded:
            dense = [x for x in dense if x[0] not in excluded][:depth]
            lexical = [x for x in lexical if x[0] not in excluded][:depth]
        # The head is fused from the first `candidates` of each list whatever `top_k` is, so
        # its scores (and the re-scorer's features) do not depend on how deep a caller asks.
        head_dense, head_lexical = dense[: s.candidates], lexical[: s.candidates]
        with timer.stage("fuse"):
            if s.fusion == "dense":
                ranked = dense
            elif s.fusion == "lexical":
                ranked = lexical
            else:
                ranked = self._fuse(head_dense, head_lexical)
                if depth > s.candidates:  # deeper results follow, in the deeper fusion's order
                    seen = {pid for pid, _ in ranked}
                    ranked += [x for x in self._fuse(dense, lexical) if x[0] not in seen]
            ranked = ranked[:top_k]
            records = self.corpus.passages([pid for pid, _ in ranked])
        cosine = dict(head_dense)
        # A passage deleted between search and lookup is simply skipped.
        passages = [
            RetrievedPassage(
                passage_id=pid, document_id=r.document_id, title=r.title, start=r.start,
                end=r.end, text=r.text, score=score,
                sentences=tuple((x.start, x.end) for x in r.sentences),
                similarity=cosine.get(pid), published=r.published, block=r.block,
            )
            for pid, score in ranked
            if (r := records.get(pid)) is not None
        ]
        return Candidates(passages, vector, dict(head_lexical))

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]
              ) -> list[tuple[int, float]]:
        s = self.settings
        return reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in lexical]],
                                      [s.dense_weight, s.lexical_weight], s.rrf_k)


class Rescore:
    """Re-score the first stage's top `rescore_candidates` (by the learned model, or by the
    best sentence's similarity to the question; deeper ones keep fused order), then drop
    repeated texts and cut to `top_k`."""

    def __init__(self, corpus: Corpus, settings: Settings):
        self.corpus = corpus
        self.settings = settings
        self._checked = False

    def warm_up(self) -> None:
        """Load the learned model now: a missing or unreadable one fails here, not per
        question."""
        if self.settings.rescores and self.settings.rescorer == "learned":
            self.ranker()

    def depth(self, top_k: int) -> int:
        """How many passages the first stage should find for `run` to return `top_k`."""
        if not self.settings.rescores:
            return 2 * top_k  # a few deeper, for the copies dropped
        return max(top_k, self.settings.rescore_candidates)

    def run(self, query: str, found: Candidates, top_k: int, timer: StageTimer | None = None
            ) -> list[RetrievedPassage]:
        s = self.settings
        if not s.rescores:
            return distinct_texts(found.passages)[:top_k]
        with (timer or StageTimer()).stage("rescore"):
            top = found.passages[: s.rescore_candidates]
            assert found.vector is not None  # rescores implies rrf, which embeds the query
            passages = self._rescore(query, top, found.vector, found.bm25)
        return distinct_texts(passages + found.passages[s.rescore_candidates :])[:top_k]

    def features(self, query: str, passages: list[RetrievedPassage], vector: np.ndarray,
                 bm25: dict[int, float]) -> np.ndarray:
        """The learned re-scorer's inputs for fused candidates (see qa/ranker.py)."""
        # The index holds every passage: its size is the IDF's N without a COUNT(*) scan.
        query_terms = QueryTerms.build(query, self.corpus.term_passage_counts,
                                       self.corpus.indexed_count())
        return candidate_features(query_terms, passages, bm25,
                                  self.corpus.sentence_cosines(passages, vector),
                                  self.settings.rrf_k)

    def _rescore(self, query: str, passages: list[RetrievedPassage], vector: np.ndarray,
                 bm25: dict[int, float]) -> list[RetrievedPassage]:
        if self.settings.rescorer == "sentence":
            return rescore_by_sentence(passages, self.corpus.sentence_similarity(passages, vector),
                                       self.settings.sentence_weight)
        return rescore_learned(passages, self.ranker().score(
            self.features(query, passages, vector, bm25)))

    def ranker(self) -> LinearRanker:
        """The learned re-scorer (loaded once per process); warns once when the settings that
        shape its features differ from those it was trained with."""
        ranker = shared_ranker(self.settings.ranker_path)
        if not self._checked:
            self._checked = True
            if wrong := ranker.mismatches(self.settings.model_dump(include=set(FEATURE_SETTINGS))):
                log.warning("the learned re-scorer was trained with other settings: %s",
                            "; ".join(wrong))
        return ranker


class HybridRetriever:
    """The two retrieval stages in turn, FirstStage then Rescore: what `QAService.search`,
    eval and the scripts call for passages alone."""

    def __init__(self, corpus: Corpus, settings: Settings):
        self.first_stage = FirstStage(corpus, settings)
        self.rescore = Rescore(corpus, settings)

    def warm_up(self) -> None:
        self.first_stage.warm_up()
        self.rescore.warm_up()

    def retrieve(
        self,
        query: str,
        top_k: int,
        where: PassageFilter | None = None,
        timer: StageTimer | None = None,
    ) -> list[RetrievedPassage]:
        timer = timer or StageTimer()
        found = self.first_stage.run(query, self.rescore.depth(top_k), where, timer)
        return self.rescore.run(query, found, top_k, timer)

    def search(
        self,
        query: str,
        top_k: int,
        where: PassageFilter | None = None,
        timer: StageTimer | None = None,
    ) -> Candidates:
        """The first stage alone: dense and lexical search, fused; no re-scoring."""
        return self.first_stage.run(query, top_k, where, timer)

    def features(self, query: str, passages: list[RetrievedPassage], vector: np.ndarray,
                 bm25: dict[int, float]) -> np.ndarray:
        """The learned re-scorer's inputs for fused candidates (see Rescore.features)."""
        return self.rescore.features(query, passages, vector, bm25)
