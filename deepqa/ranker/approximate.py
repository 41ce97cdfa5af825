"""An approximate nearest-neighbour search over the index's answer vectors (HNSW graph, from hnswlib, an
optional dependency: ``pip install 'deepqa[approximate]'``), for indexes too large to search exactly in a few
milliseconds. The graph is kept beside the index in the run bundle and rebuilt when it is missing or stale."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deepqa.log import get_logger

LOG = get_logger(__name__)
SEARCH_BREADTH = 256  # candidates the search keeps (hnswlib's ef); more is slower and nearer to exact


def hnswlib_installed() -> bool:
    """Whether hnswlib is installed."""
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return False
    return True


class ApproximateSearch:
    """The HNSW graph of unit vectors [N, dim]; inner product = cosine."""

    def __init__(self, graph):
        self.graph = graph

    @classmethod
    def build(cls, vectors: np.ndarray, seed: int = 1234) -> "ApproximateSearch":
        import hnswlib

        graph = hnswlib.Index(space="ip", dim=int(vectors.shape[1]))
        graph.init_index(max_elements=max(len(vectors), 1), ef_construction=200, M=32, random_seed=seed)
        graph.add_items(vectors.astype(np.float32), np.arange(len(vectors)))
        graph.set_ef(SEARCH_BREADTH)
        return cls(graph)

    @classmethod
    def for_index(cls, vectors: np.ndarray, path: Path) -> "ApproximateSearch":
        """The graph saved at ``path`` when it holds exactly these vectors' count, else one built now and
        saved there (atomically) for the next start."""
        import hnswlib

        if path.is_file():
            graph = hnswlib.Index(space="ip", dim=int(vectors.shape[1]))
            try:
                graph.load_index(str(path), max_elements=len(vectors))
                if graph.get_current_count() == len(vectors):
                    graph.set_ef(SEARCH_BREADTH)
                    return cls(graph)
            except RuntimeError:
                pass
            LOG.info(f"{path.name} does not match the index; building it again")
        LOG.info(f"building the approximate search graph of {len(vectors):,} answers")
        search = cls.build(vectors)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        search.graph.save_index(str(partial))
        os.replace(partial, path)
        return search

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices [B, k] and cosines [B, k] of the (approximately) nearest vectors, best first."""
        if k > SEARCH_BREADTH:
            self.graph.set_ef(k)
        labels, distances = self.graph.knn_query(queries.astype(np.float32), k=k)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)  # hnswlib's "ip" distance is 1 - dot
