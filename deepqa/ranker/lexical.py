"""Lexical match between a context and an answer over the same token ids the models read: the cosine of
their TF-IDF vectors, with inverse document frequencies counted on the training split. The dual encoder
knows what fits; this knows what was said, and on corpora the ranker was not trained on it carries more."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np

from deepqa.data.vocab import UNK


def inverse_document_frequencies(documents: Iterable[np.ndarray], vocab_size: int) -> np.ndarray:
    """Smoothed IDF [V] of each token id over ``documents`` (each counted once per document)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    total = 0
    for document in documents:
        counts[np.unique(document)] += 1
        total += 1
    return (np.log((total + 1) / (counts + 1)) + 1.0).astype(np.float32)


def _vector(ids: np.ndarray, idf: np.ndarray) -> dict[int, float]:
    counts = Counter(int(i) for i in ids if i > UNK)  # padding and special tokens say nothing
    vector = {token: count * float(idf[token]) for token, count in counts.items()}
    norm = np.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {token: value / norm for token, value in vector.items()}


def tfidf_cosines(contexts: np.ndarray, candidates: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Cosine of each context row's TF-IDF vector with the candidate row's [B] (rows are padded ids). A context
    repeated over many rows, as when one question meets all its candidates, is vectorised once."""
    scores = np.zeros(len(contexts), dtype=np.float32)
    vectors: dict[bytes, dict[int, float]] = {}
    for row, (context, candidate) in enumerate(zip(contexts, candidates)):
        key = context.tobytes()
        left = vectors[key] if key in vectors else vectors.setdefault(key, _vector(context, idf))
        right = _vector(candidate, idf)
        scores[row] = sum(value * right.get(token, 0.0) for token, value in left.items())
    return scores
