"""A trained ranker at inference: its dual encoder and index, loaded from a run bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepqa.config import Config
from deepqa.files import RANKER_INDEX, RANKER_WEIGHTS
from deepqa.ranker.index import ResponseIndex
from deepqa.ranker.training import build_ranker


class Ranker:
    """Scores answers for contexts, and retrieves the best training answers for them."""

    def __init__(self, model, index: ResponseIndex):
        self.model, self.index = model, index

    @classmethod
    def load(cls, run_dir: Path, config: Config, vocab_size: int) -> "Ranker | None":
        """The run's ranker, or None when the run has none."""
        if not (run_dir / RANKER_WEIGHTS).is_file() or not (run_dir / RANKER_INDEX).is_file():
            return None
        model = build_ranker(config, vocab_size)
        model.load_weights(run_dir / RANKER_WEIGHTS)
        return cls(model, ResponseIndex.load(run_dir / RANKER_INDEX))

    def retrieve(self, context_ids: np.ndarray, k: int) -> list[list[tuple[np.ndarray, float]]]:
        """For each row of padded context ids [B, T], the ``k`` best indexed answers (ids, cosine), best first."""
        vectors = self.model.contexts(context_ids).numpy()
        found, scores = self.index.search(vectors, k)
        return [[(self.index.answer(int(i)), float(s)) for i, s in zip(row, row_scores)]
                for row, row_scores in zip(found, scores)]

    def scores(self, context_ids: np.ndarray, candidate_ids: np.ndarray) -> np.ndarray:
        """Cosine of each context row [B, T] with the candidate of the same row [B, T']."""
        contexts = self.model.contexts(context_ids).numpy()
        candidates = self.model.responses(candidate_ids).numpy()
        return np.sum(contexts * candidates, axis=1)
