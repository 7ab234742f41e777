"""Choosing among candidate standalone questions: the rules' preference checked against the
articles, by a small fitted model.

Each candidate (the raw question among them) gets a few features: the rule's prior, whether it
is the rules' first choice or the raw question, how much it replaced and inserted, and, when a
first-stage search is available, how well the passages it retrieves support it (the share of
its inserted words they contain) and how much better its best passage scores than the raw
question's. A conditional logit (a softmax over one question's candidates, linear in those
features) picks one. Its weights are fitted, not set by hand: `fit` learns them from questions
whose gold rewrite is known (`qa eval canard --fit` on the CANARD tuning half), and
`selector.json` next to this file holds them, one model with the search features and one
without (for callers that have no articles to search).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.followup.mentions import WORD
from qa.followup.rewriters import Candidate
from qa.text import fold_mention

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("selector.json")
# A first-stage search: (passage text, score; higher is better), best first.
Search = Callable[[str], Sequence[tuple[str, float]]]
SUPPORT_PASSAGES = 3

BASE_FEATURES = ("raw", "prior", "rule_top", "substitutions", "inserted", "ellipsis",
                 "what_about", "topic_phrase")
SEARCH_FEATURES = ("support", "score_gain", "found")
_STOP = frozenset({"the", "a", "an", "of", "and", "in", "on", "at", "to", "for", "with", "by",
                   "s", "'s", "is", "was", "did", "do", "does"})


def content_words(text: str) -> list[str]:
    return [w[:-2] if w.endswith("'s") else w for w in WORD.findall(fold_mention(text))
            if w not in _STOP]


@dataclass(frozen=True)
class Retrieved:
    top_score: float
    text: str  # the best passages, joined (lower case, accents folded)


def retrieve(search: Search, query: str) -> Retrieved:
    found = list(search(query))[:SUPPORT_PASSAGES]
    if not found:
        return Retrieved(0.0, "")
    return Retrieved(float(found[0][1]), fold_mention(" ".join(t for t, _ in found)))


def features(candidate: Candidate, raw: str, rule_top: bool,
             retrieved: Retrieved | None = None, raw_retrieved: Retrieved | None = None
             ) -> dict[str, float]:
    raw_words = set(content_words(raw))
    inserted = [w for w in content_words(candidate.text) if w not in raw_words]
    is_raw = candidate.source == "raw"
    f = {"raw": float(is_raw), "prior": candidate.prior, "rule_top": float(rule_top),
         "substitutions": float(candidate.substitutions), "inserted": len(inserted) / 10,
         "ellipsis": float(candidate.source == "ellipsis"),
         "what_about": float(candidate.source == "what_about"),
         "topic_phrase": float(candidate.source == "topic_phrase")}
    if retrieved is not None and raw_retrieved is not None:
        words = set(WORD.findall(retrieved.text))
        f["support"] = sum(w in words for w in inserted) / len(inserted) if inserted else 0.0
        base = raw_retrieved.top_score
        f["score_gain"] = (retrieved.top_score - base) / (abs(base) + 1.0)
        f["found"] = float(bool(retrieved.text))
    return f


@dataclass
class Model:
    names: tuple[str, ...]
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def scores(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        x = np.array([[r.get(n, 0.0) for n in self.names] for r in rows], dtype=float)
        return ((x - self.mean) / self.scale) @ self.weights

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.names), "weights": self.weights.round(6).tolist(),
                "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        return cls(tuple(data["features"]), np.array(data["weights"], dtype=float),
                   np.array(data["mean"], dtype=float), np.array(data["scale"], dtype=float))


def fit(groups: Sequence[Sequence[dict[str, float]]], targets: Sequence[Sequence[float]],
        names: Sequence[str], l2: float = 0.01, steps: int = 800, rate: float = 0.5) -> Model:
    """Fit a conditional logit: for each group (one question's candidates) `targets` is a
    distribution over its candidates (the best ones by the gold rewrite); groups whose
    targets are all equal teach nothing and should be left out by the caller."""
    rows = [r for g in groups for r in g]
    x_all = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=float)
    mean = x_all.mean(axis=0) if len(rows) else np.zeros(len(names))
    scale = x_all.std(axis=0) if len(rows) else np.ones(len(names))
    scale[scale < 1e-9] = 1.0
    xs = [(np.array([[r.get(n, 0.0) for n in names] for r in g], dtype=float) - mean) / scale
          for g in groups]
    ts = [np.asarray(t, dtype=float) / max(float(np.sum(t)), 1e-12) for t in targets]
    w = np.zeros(len(names))
    for _ in range(steps):
        grad = l2 * w
        for x, t in zip(xs, ts, strict=True):
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += x.T @ (p - t) / len(xs)
        w -= rate * grad
    return Model(tuple(names), w, mean, scale)


def log_likelihood(model: Model, groups: Sequence[Sequence[dict[str, float]]],
                   targets: Sequence[Sequence[float]]) -> float:
    total = 0.0
    for g, t in zip(groups, targets, strict=True):
        s = model.scores(g)
        s = s - s.max()
        logp = s - math.log(float(np.exp(s).sum()))
        tt = np.asarray(t, dtype=float) / max(float(np.sum(t)), 1e-12)
        total += float(tt @ logp)
    return total / max(len(groups), 1)


@dataclass
class Selector:
    with_search: Model | None
    without_search: Model | None

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Selector:
        """The fitted selector; with no fitted file, the rules' first choice is taken."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            log.warning("no fitted follow-up selector at %s: the rules' first choice is used",
                        path)
            return cls(None, None)
        return cls(Model.from_dict(data["with_search"]) if data.get("with_search") else None,
                   Model.from_dict(data["without_search"]) if data.get("without_search")
                   else None)

    def save(self, path: Path, about: dict[str, Any]) -> None:
        data = {"about": about,
                "with_search": self.with_search.to_dict() if self.with_search else None,
                "without_search": self.without_search.to_dict() if self.without_search
                else None}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def model(self, searched: bool) -> Model | None:
        return self.with_search if searched else self.without_search
