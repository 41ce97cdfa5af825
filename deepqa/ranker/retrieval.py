"""A trained ranker at inference: its dual encoder and index, loaded from a run bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepqa.config import Config
from deepqa.files import RANKER_INDEX, RANKER_WEIGHTS
from deepqa.inference.decoding import pad_rows
from deepqa.ranker.index import ResponseIndex
from deepqa.ranker.lexical import tfidf_cosines
from deepqa.ranker.training import build_ranker


class Ranker:
    """Scores answers for contexts (the towers' cosine plus ``lexical_weight`` times the TF-IDF cosine), and
    retrieves the best training answers for them."""

    SHORTLIST = 64  # answers the towers find before the lexical score re-ranks them

    def __init__(self, model, index: ResponseIndex, lexical_weight: float = 0.0):
        self.model, self.index = model, index
        self.lexical_weight = lexical_weight if len(index.idf) else 0.0

    @classmethod
    def load(cls, run_dir: Path, config: Config, vocab_size: int) -> "Ranker | None":
        """The run's ranker, or None when the run has none."""
        if not (run_dir / RANKER_WEIGHTS).is_file() or not (run_dir / RANKER_INDEX).is_file():
            return None
        model = build_ranker(config, vocab_size)
        model.load_weights(run_dir / RANKER_WEIGHTS)
        return cls(model, ResponseIndex.load(run_dir / RANKER_INDEX), config.ranker.lexical_weight)

    def retrieve(self, context_ids: np.ndarray, k: int) -> list[list[tuple[np.ndarray, float]]]:
        """For each row of padded context ids [B, T], the ``k`` best indexed answers (ids, cosine), best first."""
        vectors = self.model.contexts(context_ids).numpy()
        found, scores = self.index.search(vectors, max(k, self.SHORTLIST) if self.lexical_weight else k)
        results = []
        for context, row, row_scores in zip(context_ids, found, scores):
            answers = [self.index.answer(int(i)) for i in row]
            if self.lexical_weight:
                lexical = tfidf_cosines(np.repeat(context[None], len(answers), axis=0), pad_rows(answers),
                                        self.index.idf)
                row_scores = row_scores + self.lexical_weight * lexical
            order = np.argsort(-row_scores)[:k]
            results.append([(answers[i], float(row_scores[i])) for i in order])
        return results

    def scores(self, context_ids: np.ndarray, candidate_ids: np.ndarray, lexical: bool = True) -> np.ndarray:
        """The score of each context row [B, T] with the candidate of the same row [B, T']."""
        contexts = self.model.contexts(context_ids).numpy()
        candidates = self.model.responses(candidate_ids).numpy()
        scores = np.sum(contexts * candidates, axis=1)
        if lexical and self.lexical_weight:
            scores = scores + self.lexical_weight * tfidf_cosines(context_ids, candidate_ids, self.index.idf)
        return scores
