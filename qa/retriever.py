"""Hybrid retrieval: dense (FAISS) and lexical (SQLite FTS5 BM25) rankings fused by reciprocal
rank fusion, the fused top re-scored by their best sentence's similarity to the question, with
optional document and date filters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.corpus import Corpus
from qa.settings import Settings
from qa.timing import StageTimer
from qa.types import RetrievedPassage


@dataclass(frozen=True)
class PassageFilter:
    document_ids: list[str] | None = None
    published_from: str | None = None
    published_to: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.document_ids is not None or self.published_from or self.published_to)


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


class HybridRetriever:
    def __init__(self, corpus: Corpus, settings: Settings):
        self.corpus = corpus
        self.settings = settings

    def retrieve(
        self,
        query: str,
        top_k: int,
        where: PassageFilter | None = None,
        timer: StageTimer | None = None,
    ) -> list[RetrievedPassage]:
        timer = timer or StageTimer()
        s = self.settings
        allowed = None
        if where is not None and where.active:
            allowed = self.corpus.store.passage_ids(
                where.document_ids, where.published_from, where.published_to
            )
        depth = max(s.candidates, top_k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if s.fusion in ("rrf", "dense"):
            with timer.stage("embed_query"):
                vector = self.corpus.encoder.encode([query])[0]
            with timer.stage("dense_search"):
                dense = self.corpus.dense_search(vector, depth, allowed)
        if s.fusion in ("rrf", "lexical"):
            with timer.stage("lexical_search"):
                lexical = self.corpus.store.lexical_search(query, depth, allowed)
        with timer.stage("fuse"):
            if s.fusion == "dense":
                ranked = dense
            elif s.fusion == "lexical":
                ranked = lexical
            else:
                ranked = reciprocal_rank_fusion(
                    [[i for i, _ in dense], [i for i, _ in lexical]],
                    [s.dense_weight, s.lexical_weight],
                    s.rrf_k,
                )
            rescore = s.fusion == "rrf" and s.sentence_weight > 0
            ranked = ranked[: max(top_k, s.rescore_candidates) if rescore else top_k]
            records = self.corpus.store.passages([pid for pid, _ in ranked])
        cosine = dict(dense)
        # A passage deleted between search and lookup is simply skipped.
        passages = [
            RetrievedPassage(
                passage_id=pid, document_id=r.document_id, title=r.title, start=r.start,
                end=r.end, text=r.text, score=score,
                sentences=tuple((x.start, x.end) for x in r.sentences),
                similarity=cosine.get(pid),
            )
            for pid, score in ranked
            if (r := records.get(pid)) is not None
        ]
        if rescore:
            with timer.stage("rescore"):
                # Only the top `rescore_candidates` are re-ordered; deeper ones keep fused order.
                top = passages[: s.rescore_candidates]
                passages = rescore_by_sentence(
                    top, self.corpus.sentence_similarity(top, vector), s.sentence_weight
                ) + passages[s.rescore_candidates :]
        return passages[:top_k]
