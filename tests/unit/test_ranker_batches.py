"""The ranker's epoch batches: random ones as before, and batches with a cluster of similar contexts."""

import numpy as np

from deepqa.ranker.batches import SKETCH_DIM, epoch_batches, nearest_clusters, sketch_projection


def _mean_cosine(vectors: np.ndarray) -> float:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    return float((similarity.sum() - len(unit)) / (len(unit) * (len(unit) - 1)))


def test_random_batches_cover_each_pair_once_in_a_seeded_order():
    batches = epoch_batches(np.random.default_rng(7), 100, 16)
    assert len(batches) == 6 and all(len(b) == 16 for b in batches)
    flat = np.concatenate(batches)
    assert len(set(flat.tolist())) == 96
    assert np.array_equal(flat, np.random.default_rng(7).permutation(100)[:96])  # the order it always had
    assert epoch_batches(np.random.default_rng(7), 100, 16, hard_share=0.5)[0].tolist() == batches[0].tolist()


def test_hard_batches_hold_a_cluster_of_similar_contexts_and_random_others():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1024, 16)).astype(np.float32)
    batches = epoch_batches(np.random.default_rng(1), 1024, 64, hard_share=0.5, context_vectors=vectors)
    assert len(batches) == 16 and all(len(b) == 64 for b in batches)
    assert len(set(np.concatenate(batches).tolist())) == 1024
    clustered = np.mean([_mean_cosine(vectors[b[:32]]) for b in batches])
    random = np.mean([_mean_cosine(vectors[b[32:]]) for b in batches])
    assert clustered > random + 0.15 and abs(random) < 0.05  # random vectors: no real clusters, still closer


def test_nearest_clusters_group_each_row_once_with_its_neighbours():
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((4, 100))
    vectors = np.repeat(centres, 8, axis=0) + 0.05 * rng.standard_normal((32, 100))  # 4 groups of 8
    clusters = nearest_clusters(vectors.astype(np.float32), 8, rng)
    assert clusters.shape == (4, 8) and sorted(clusters.reshape(-1).tolist()) == list(range(32))
    assert sorted(sorted({m // 8 for m in cluster}) for cluster in clusters.tolist()) == [[0], [1], [2], [3]]


def test_wide_vectors_are_sketched_by_a_random_projection_that_keeps_cosines():
    rng = np.random.default_rng(5)
    assert sketch_projection(SKETCH_DIM, rng) is None
    vectors = rng.standard_normal((200, 512)).astype(np.float32)
    vectors[1] = vectors[0] + 0.1 * vectors[1]  # two close ones among unrelated ones
    sketched = vectors @ sketch_projection(512, rng)
    assert sketched.shape == (200, SKETCH_DIM)
    cosine = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cosine(sketched[0], sketched[1]) > 0.9 and abs(cosine(sketched[0], sketched[2])) < 0.5
