"""Near-duplicate articles: the same wire copy under another headline, with a trimmed ending, a
changed byline or an outlet's own furniture.

Each article's text becomes a set of word 5-gram shingles, summarised by a MinHash signature
(128 permutations). Signatures are cut into 32 bands of 4 rows; articles sharing a band are
candidates (locality-sensitive hashing: found in one indexed lookup per band, however many
articles are stored), and a candidate is a duplicate when the shorter text is mostly copied:
its estimated containment in the other is at least `CONTAINMENT` (0.8, the gold set's
definition, eval/gold/news/README.md; not tuned).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from qa.storage.documents import Fingerprint, Fingerprinted

SHINGLE_WORDS = 5
PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS
CONTAINMENT = 0.8
_PRIME = np.uint64((1 << 31) - 1)  # products of two values below it fit in 64 bits
_WORD = re.compile(r"\w+")


def _parameters() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20231207)  # fixed: stored signatures must stay comparable
    a = rng.integers(1, int(_PRIME) - 1, size=PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME) - 1, size=PERMUTATIONS, dtype=np.uint64)
    return a, b


_A, _B = _parameters()


@dataclass(frozen=True)
class Signature:
    """An article's MinHash values and how many distinct shingles it has."""

    values: np.ndarray  # uint64, PERMUTATIONS
    shingles: int

    def bands(self) -> list[str]:
        """One key per band: the band's number and a hash of its rows."""
        rows = self.values.reshape(BANDS, ROWS)
        return [f"{i}:{hashlib.blake2b(r.tobytes(), digest_size=8).hexdigest()}"
                for i, r in enumerate(rows)]

    def jaccard(self, other: Signature) -> float:
        return float(np.mean(self.values == other.values))

    def containment(self, other: Signature) -> float:
        """The estimated share of the smaller article's shingles that the other holds:
        |A & B| / min(|A|, |B|), from the Jaccard estimate and the two sizes."""
        j = self.jaccard(other)
        shared = j * (self.shingles + other.shingles) / (1 + j)
        return min(1.0, shared / max(1, min(self.shingles, other.shingles)))


def shingles(text: str) -> np.ndarray:
    """The distinct word 5-grams of `text` (lower case), hashed to 31-bit integers."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        grams = {" ".join(words)} if words else set()
    else:
        grams = {" ".join(words[i : i + SHINGLE_WORDS])
                 for i in range(len(words) - SHINGLE_WORDS + 1)}
    return np.array([int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                     % int(_PRIME) for g in grams], dtype=np.uint64)


def signature(text: str) -> Signature:
    values = shingles(text)
    if not len(values):
        return Signature(np.full(PERMUTATIONS, int(_PRIME), dtype=np.uint64), 0)
    hashed = (_A[:, None] * values[None, :] + _B[:, None]) % _PRIME  # one row per permutation
    return Signature(hashed.min(axis=1), int(len(values)))


def is_duplicate(a: Signature, b: Signature) -> bool:
    return a.shingles > 0 and b.shingles > 0 and a.containment(b) >= CONTAINMENT


def fingerprint(sig: Signature) -> Fingerprint:
    """The stored form of a signature."""
    return Fingerprint(sig.values.astype(np.uint64).tobytes(), sig.shingles, tuple(sig.bands()))


def from_fingerprint(stored: Fingerprint) -> Signature:
    return Signature(np.frombuffer(stored.values, dtype=np.uint64), stored.shingles)


def group_of(sig: Signature, story_key: str | None, candidates: list[Fingerprinted]) -> str | None:
    """The group (its first document's id) of the first stored candidate that `sig`'s article
    duplicates; versions of the same story are versions, not duplicates."""
    for candidate in candidates:
        if story_key is not None and candidate.story_key == story_key:
            continue
        if is_duplicate(sig, from_fingerprint(candidate.fingerprint)):
            return candidate.duplicate_of or candidate.id
    return None
