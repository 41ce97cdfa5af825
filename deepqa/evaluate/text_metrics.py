"""Generation metrics over token lists: corpus BLEU, distinct-n, reply length, most frequent reply share."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from sacrebleu.metrics import BLEU

Tokens = Sequence[str]


def _ngrams(tokens: Tokens, n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[Tokens], references: Sequence[Tokens], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` (Papineni et al. 2002) with one reference each, in [0, 1], computed by sacrebleu
    over our own tokens (no re-tokenization). Zero n-gram matches count as 0.1 (sacrebleu's ``floor``
    smoothing, Chen & Cherry's method 1), so short replies get a small score instead of exactly 0."""
    if not any(hypotheses):
        return 0.0
    bleu = BLEU(tokenize="none", smooth_method="floor", smooth_value=0.1, max_ngram_order=max_n)
    score = bleu.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]])
    return score.score / 100


def distinct_n(replies: Sequence[Tokens], n: int) -> float:
    """Distinct n-grams over all n-grams of all replies (Li et al. 2016); 0 when there are none."""
    grams = Counter()
    for reply in replies:
        grams.update(_ngrams(reply, n))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def most_frequent_share(replies: Sequence[str]) -> float:
    """Share of the replies that are the single most frequent reply (a sign of generic answers)."""
    if not replies:
        return 0.0
    return Counter(replies).most_common(1)[0][1] / len(replies)
