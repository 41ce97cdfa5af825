"""Lexical match between a context and an answer over the same token ids the models read: the cosine of
their TF-IDF vectors, with inverse document frequencies counted on the training split. The dual encoder
knows what fits; this knows what was said, and on corpora the ranker was not trained on it carries more.

Words outside the vocabulary are all ``<unk>`` to the models; where the text is at hand they get ids of
their own past the vocabulary (:func:`lexical_ids`), so that a name the towers never saw still matches
itself, with the rarest IDF."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from deepqa.data.unknown_words import words_of
from deepqa.data.vocab import UNK


def inverse_document_frequencies(documents: Iterable[np.ndarray], vocab_size: int) -> np.ndarray:
    """Smoothed IDF [V] of each token id over ``documents`` (each counted once per document)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    total = 0
    for document in documents:
        counts[np.unique(document)] += 1
        total += 1
    return (np.log((total + 1) / (counts + 1)) + 1.0).astype(np.float32)


OUT_OF_VOCABULARY_IDS = 1 << 24  # hashed ids of unknown words, past the vocabulary


def lexical_ids(tokens: Sequence[str], ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """``ids`` (the vocabulary's ids of ``tokens``) with each ``<unk>`` replaced by a stable id of its word,
    past ``vocab_size``."""
    return hashed_unknown(ids, words_of(tokens, ids), vocab_size)


def hashed_unknown(ids: np.ndarray, words: Sequence[str], vocab_size: int) -> np.ndarray:
    """``ids`` with the k-th ``<unk>`` replaced by a stable id of the k-th of ``words`` (the words behind them,
    see :mod:`deepqa.data.unknown_words`), past ``vocab_size``; an ``<unk>`` without a word stays."""
    hashed = np.asarray(ids, dtype=np.int64).copy()
    positions = np.flatnonzero(hashed == UNK)[:len(words)]
    hashed[positions] = [vocab_size + zlib.crc32(word.encode("utf-8")) % OUT_OF_VOCABULARY_IDS
                         for word in words[:len(positions)]]
    return hashed


def unknown_share(ids: np.ndarray) -> np.ndarray:
    """Share of ``<unk>`` among the real tokens of each padded row [B, T] (special tokens not counted)."""
    words = np.sum(ids >= UNK, axis=1)
    return np.sum(ids == UNK, axis=1) / np.maximum(words, 1)


def _vector(ids: np.ndarray, idf: np.ndarray, unseen: float) -> dict[int, float]:
    counts = Counter(int(i) for i in ids if i > UNK)  # padding and special tokens say nothing
    vector = {token: count * (float(idf[token]) if token < len(idf) else unseen) for token, count in counts.items()}
    norm = np.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {token: value / norm for token, value in vector.items()}


def tfidf_cosines(contexts: np.ndarray, candidates: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Cosine of each context row's TF-IDF vector with the candidate row's [B] (rows are padded ids). A context
    repeated over many rows, as when one question meets all its candidates, is vectorised once."""
    scores = np.zeros(len(contexts), dtype=np.float32)
    unseen = float(idf.max()) if len(idf) else 1.0  # a word never seen in training is as rare as can be
    vectors: dict[bytes, dict[int, float]] = {}
    for row, (context, candidate) in enumerate(zip(contexts, candidates)):
        key = context.tobytes()
        left = vectors[key] if key in vectors else vectors.setdefault(key, _vector(context, idf, unseen))
        right = _vector(candidate, idf, unseen)
        scores[row] = sum(value * right.get(token, 0.0) for token, value in left.items())
    return scores
