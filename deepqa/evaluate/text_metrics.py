"""Generation metrics over token lists: corpus BLEU, distinct-n, reply length, most frequent reply share."""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

Tokens = Sequence[str]


def _ngrams(tokens: Tokens, n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[Tokens], references: Sequence[Tokens], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` (Papineni et al. 2002) with one reference each, in [0, 1].

    Zero n-gram matches are smoothed with a tiny epsilon count (Chen & Cherry's method 1), so short
    replies get a small score instead of exactly 0.
    """
    matches, totals = [0] * max_n, [0] * max_n
    hypothesis_length = reference_length = 0
    for hypothesis, reference in zip(hypotheses, references):
        hypothesis_length += len(hypothesis)
        reference_length += len(reference)
        for n in range(1, max_n + 1):
            counts, reference_counts = _ngrams(hypothesis, n), _ngrams(reference, n)
            matches[n - 1] += sum(min(count, reference_counts[gram]) for gram, count in counts.items())
            totals[n - 1] += max(0, len(hypothesis) - n + 1)
    if hypothesis_length == 0:
        return 0.0
    log_precision = sum(math.log((m if m else 0.1) / t) if t else math.log(1e-9)
                        for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hypothesis_length > reference_length else math.exp(1 - reference_length / hypothesis_length)
    return brevity * math.exp(log_precision)


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
