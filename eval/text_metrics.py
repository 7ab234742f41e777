"""Text-overlap metrics for question rewriting: corpus BLEU-4 and ROUGE-1 F.

Written for this project from the published definitions: BLEU (Papineni et al., 2002) is the
geometric mean of the modified (clipped) n-gram precisions for n = 1..4, pooled over the whole
corpus, times the brevity penalty exp(1 - r/c) when the candidates are shorter (c) than the
references (r, the closest reference length per sentence); no smoothing, so a corpus without any
matching 4-gram scores 0. ROUGE-1 F (Lin, 2004) is the F1 of clipped unigram overlap per
sentence (best reference), averaged over sentences. Both are on lower-cased tokens (words and
single punctuation marks) and returned as percentages.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks ("Hamas's" -> hamas ' s)."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(candidates: Sequence[str], references: Sequence[Sequence[str]],
                max_n: int = 4) -> float:
    """Corpus BLEU (0-100) of `candidates` against their references (one or more each)."""
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate is needed")
    matched = [0] * max_n
    total = [0] * max_n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        c_tokens = tokenize(cand)
        r_tokens = [tokenize(r) for r in refs] or [[]]
        cand_len += len(c_tokens)
        # the reference length closest to the candidate's (the shorter one on a tie)
        ref_len += min((abs(len(r) - len(c_tokens)), len(r)) for r in r_tokens)[1]
        for n in range(1, max_n + 1):
            counts = ngrams(c_tokens, n)
            best: Counter[tuple[str, ...]] = Counter()
            for r in r_tokens:
                best |= ngrams(r, n)
            matched[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            total[n - 1] += sum(counts.values())
    if cand_len == 0 or any(t == 0 for t in total) or any(m == 0 for m in matched):
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total, strict=True)) / max_n
    brevity = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)
    return 100.0 * brevity * math.exp(log_precision)


def rouge1_f(candidate: str, reference: str) -> float:
    """ROUGE-1 F1 (0-1) of one candidate against one reference."""
    c = Counter(tokenize(candidate))
    r = Counter(tokenize(reference))
    overlap = sum((c & r).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(c.values())
    recall = overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def mean_rouge1_f(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean over sentences of the best ROUGE-1 F against their references, as a percentage."""
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate is needed")
    if not candidates:
        return 0.0
    scores = [max((rouge1_f(c, r) for r in refs), default=0.0)
              for c, refs in zip(candidates, references, strict=True)]
    return 100.0 * sum(scores) / len(scores)


def sentence_bleu(candidate: str, reference: str, max_n: int = 4) -> float:
    """BLEU (0-1) of one sentence with add-one smoothing of the n > 1 precisions (Lin and Och,
    2004), so that a sentence without a matching 4-gram still compares with another; for
    ranking candidates of one question, not for reporting."""
    c_tokens, r_tokens = tokenize(candidate), tokenize(reference)
    if not c_tokens or not r_tokens:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_n + 1):
        counts, ref = ngrams(c_tokens, n), ngrams(r_tokens, n)
        matched = sum(min(c, ref[g]) for g, c in counts.items())
        total = sum(counts.values())
        if n == 1:
            if matched == 0:
                return 0.0
            log_precision += math.log(matched / total)
        else:
            log_precision += math.log((matched + 1) / (total + 1))
    brevity = 1.0 if len(c_tokens) > len(r_tokens) else math.exp(1 - len(r_tokens)
                                                                 / len(c_tokens))
    return brevity * math.exp(log_precision / max_n)
