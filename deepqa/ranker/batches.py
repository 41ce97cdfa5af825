"""The ranker's batches for one epoch. Every answer of a batch is a negative of every other context in it, so
which pairs share a batch decides how much a step teaches: random pairs mostly differ in topic, which the
towers soon tell apart. With ``[ranker] hard_negatives`` a share of each batch is a cluster of pairs whose
contexts the towers themselves (as the last epoch left them) place close together: their answers are the hard
negatives of each other. The rest of the batch stays random, so that the towers keep seeing every topic."""

from __future__ import annotations

import numpy as np

SKETCH_DIM = 64  # contexts are compared through a random projection this wide: cosines nearly kept, in less memory


def sketch_projection(dim: int, rng: np.random.Generator) -> np.ndarray | None:
    """A random projection [dim, SKETCH_DIM] for vectors wider than the sketch, else None (kept as they are)."""
    return rng.standard_normal((dim, SKETCH_DIM)).astype(np.float32) if dim > SKETCH_DIM else None


def nearest_clusters(vectors: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of ``vectors`` [N, dim] grouped into ``N // size`` clusters [clusters, size] of row indices: a row
    drawn at random among those left and the ``size - 1`` left closest to it by cosine, again and again."""
    count = len(vectors) // size
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    taken = np.zeros(len(unit), dtype=bool)
    seeds = iter(rng.permutation(len(unit)))
    clusters = np.empty((count, size), dtype=np.int64)
    for cluster in range(count):
        seed = next(s for s in seeds if not taken[s])
        similarity = unit @ unit[seed]
        similarity[taken] = -np.inf
        similarity[seed] = np.inf  # the seed itself, whatever rounding does
        members = np.argpartition(-similarity, size - 1)[:size]
        taken[members] = True
        clusters[cluster] = members
    return clusters


def epoch_batches(rng: np.random.Generator, count: int, batch: int, hard_share: float = 0.0,
                  context_vectors: np.ndarray | None = None) -> list[np.ndarray]:
    """Batches of pair indices (``count // batch`` of ``batch`` each, every pair at most once) in a random
    order. With ``context_vectors`` [count, dim] and a ``hard_share`` above 0, that share of each batch is a
    cluster of pairs with similar contexts, the rest drawn at random."""
    order = rng.permutation(count)
    steps = count // batch
    hard = int(round(batch * hard_share)) if context_vectors is not None and steps else 0
    if hard < 2:
        return [order[i * batch:(i + 1) * batch] for i in range(steps)]
    clustered, rest = order[:steps * hard], order[steps * hard:]
    clusters = clustered[nearest_clusters(context_vectors[clustered], hard, rng)]
    easy = batch - hard
    return [np.concatenate([cluster, rest[i * easy:(i + 1) * easy]]) for i, cluster in enumerate(clusters)]
