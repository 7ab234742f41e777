"""Text-overlap metrics for question rewriting: corpus BLEU-4 (sacreBLEU) and ROUGE-1 F
(rouge-score), on this project's tokens.

Both libraries score the same tokens: lower-cased words and single punctuation marks
(`tokenize`), so "?" and "'s" count as they always have here. sacreBLEU runs with
`tokenize="none"` on those tokens and no smoothing (a corpus without a matching 4-gram scores
0); its signature is `bleu_signature()`. rouge-score gets the same tokenizer in place of its own,
which drops punctuation. Both are returned as percentages, except `sentence_bleu` (0-1), which
ranks one question's candidates and is not for reporting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rouge_score.rouge_scorer import RougeScorer
from rouge_score.tokenizers import Tokenizer
from sacrebleu.metrics import BLEU

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks ("Hamas's" -> hamas ' s)."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _tokens(text: str) -> str:
    """The tokens joined by spaces: what sacreBLEU's "none" tokenizer splits again."""
    return " ".join(tokenize(text))


class _ProjectTokenizer(Tokenizer):
    """rouge-score's tokenizer interface over `tokenize`."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)


_CORPUS_BLEU = BLEU(lowercase=True, tokenize="none", smooth_method="none")
# add-one smoothing of the n > 1 precisions (Lin and Och, 2004), as sacreBLEU's "add-k" with k=1
_SENTENCE_BLEU = BLEU(tokenize="none", smooth_method="add-k", smooth_value=1, effective_order=True)
_ROUGE = RougeScorer(["rouge1"], tokenizer=_ProjectTokenizer())


def _reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-candidate reference lists as sacreBLEU's reference streams (None pads a candidate
    with fewer references; a candidate without any gets one empty reference)."""
    per_candidate = [[_tokens(r) for r in refs] or [""] for refs in references]
    width = max((len(refs) for refs in per_candidate), default=1)
    return [[refs[i] if i < len(refs) else None for refs in per_candidate] for i in range(width)]


def corpus_bleu(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU-4 (0-100) of `candidates` against their references (one or more each)."""
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate is needed")
    if not candidates:
        return 0.0
    hypotheses = [_tokens(c) for c in candidates]
    # sacreBLEU's own type hints say list[str]; None is its documented padding
    return float(_CORPUS_BLEU.corpus_score(hypotheses,
                                           _reference_streams(references)).score)  # type: ignore[arg-type]


def bleu_signature() -> str:
    """sacreBLEU's signature of `corpus_bleu`, to quote with its numbers."""
    return str(_CORPUS_BLEU.get_signature())


def rouge1_f(candidate: str, reference: str) -> float:
    """ROUGE-1 F1 (0-1) of one candidate against one reference."""
    return float(_ROUGE.score(reference, candidate)["rouge1"].fmeasure)


def mean_rouge1_f(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean over sentences of the best ROUGE-1 F against their references, as a percentage."""
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate is needed")
    if not candidates:
        return 0.0
    scores = [max((rouge1_f(c, r) for r in refs), default=0.0)
              for c, refs in zip(candidates, references, strict=True)]
    return 100.0 * sum(scores) / len(scores)


def sentence_bleu(candidate: str, reference: str) -> float:
    """BLEU-4 (0-1) of one sentence with add-one smoothing of the n > 1 precisions, so that a
    sentence without a matching 4-gram still compares with another; for ranking candidates of
    one question, not for reporting."""
    return float(_SENTENCE_BLEU.sentence_score(_tokens(candidate), [_tokens(reference)]).score) / 100
