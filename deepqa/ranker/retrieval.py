"""A trained ranker at inference: its dual encoder and index, loaded from a run bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from deepqa.config import Config
from deepqa.files import RANKER_GRAPH, RANKER_INDEX, RANKER_WEIGHTS
from deepqa.inference.decoding import pad_rows
from deepqa.ranker.index import ResponseIndex
from deepqa.ranker.lexical import hashed_unknown, tfidf_cosines, unknown_share
from deepqa.ranker.training import build_ranker


class Ranker:
    """Scores answers for contexts (the towers' cosine plus a weight times the TF-IDF cosine), and retrieves
    the best training answers for them. The weight is ``lexical_weight`` plus ``unknown_word_boost`` times the
    share of the context's words outside the vocabulary beyond the share usual in training contexts (see
    :class:`ResponseIndex`): the further a text is from what the towers learned, the more what was said
    counts."""

    SHORTLIST = 64  # answers the towers find before the lexical score re-ranks them

    def __init__(self, model, index: ResponseIndex, lexical_weight: float = 0.0, unknown_word_boost: float = 0.0):
        self.model, self.index = model, index
        if model is not None:  # each tower compiled once, for any batch and length
            spec = [tf.TensorSpec([None, None], tf.int32)]
            self._contexts = tf.function(model.contexts, input_signature=spec)
            self._responses = tf.function(model.responses, input_signature=spec)
        self.lexical_weight = lexical_weight if len(index.idf) else 0.0
        self.unknown_word_boost = unknown_word_boost if self.lexical_weight else 0.0

    @classmethod
    def load(cls, run_dir: Path, config: Config, words: Sequence[str]) -> "Ranker | None":
        """The run's ranker over the vocabulary ``words`` (in id order), or None when the run has none."""
        if not (run_dir / RANKER_WEIGHTS).is_file() or not (run_dir / RANKER_INDEX).is_file():
            return None
        model = build_ranker(config, words)
        model.load_weights(run_dir / RANKER_WEIGHTS)
        model.freeze()
        index = ResponseIndex.load(run_dir / RANKER_INDEX)
        index.search_approximately_above(config.ranker.approximate_above, run_dir / RANKER_GRAPH)
        return cls(model, index, config.ranker.lexical_weight, config.ranker.unknown_word_boost)

    def lexical_weights(self, context_ids: np.ndarray) -> np.ndarray:
        """The lexical part's weight for each padded context row [B, T]."""
        excess = np.maximum(0.0, unknown_share(context_ids) - self.index.unknown_share)
        return self.lexical_weight + self.unknown_word_boost * excess

    def context_vectors(self, context_ids: np.ndarray) -> np.ndarray:
        """The context towers' vectors [B, width] of padded context ids [B, T], for :meth:`retrieve` and
        :meth:`scores` to share."""
        return self._contexts(context_ids.astype(np.int32)).numpy()

    def retrieve(self, context_ids: np.ndarray, k: int, vectors: np.ndarray | None = None,
                 lexical_contexts: np.ndarray | None = None) -> list[list[tuple[np.ndarray, float, list[str]]]]:
        """For each row of padded context ids [B, T], the ``k`` best indexed answers (ids, score as
        :meth:`scores` gives it, the words behind its ``<unk>`` ids), best first; ``vectors``: the rows'
        :meth:`context_vectors`, if at hand; ``lexical_contexts``: the rows with unknown words told apart (see
        :func:`deepqa.ranker.lexical.lexical_ids`), where the texts are at hand, so that a word outside the
        vocabulary matches the answers that have it."""
        vectors = self.context_vectors(context_ids) if vectors is None else vectors
        found, scores = self.index.search(vectors, max(k, self.SHORTLIST) if self.lexical_weight else k)
        lexical_contexts = context_ids if lexical_contexts is None else lexical_contexts
        results = []
        for context, weight, row, row_scores in zip(lexical_contexts, self.lexical_weights(context_ids), found, scores):
            answers = [(self.index.answer(int(i)), self.index.answer_words(int(i))) for i in row]
            if self.lexical_weight:
                lexical = tfidf_cosines(np.repeat(context[None], len(answers), axis=0),
                                        pad_rows([self.lexical_answer(*answer) for answer in answers]), self.index.idf)
                row_scores = row_scores + weight * lexical
            order = np.argsort(-row_scores)[:k]
            results.append([(answers[i][0], float(row_scores[i]), answers[i][1]) for i in order])
        return results

    def lexical_answer(self, ids: np.ndarray, words: Sequence[str]) -> np.ndarray:
        """An answer's ids with its unknown words told apart, as :meth:`scores`' ``lexical_rows`` have them."""
        return hashed_unknown(ids, words, len(self.index.idf))

    def scores(self, context_ids: np.ndarray, candidate_ids: np.ndarray, lexical: bool = True,
               lexical_rows: tuple[np.ndarray, np.ndarray] | None = None,
               vectors: np.ndarray | None = None) -> np.ndarray:
        """The score of each context row [B, T] with the candidate of the same row [B, T']. ``lexical_rows``:
        the same rows with unknown words told apart (see :func:`deepqa.ranker.lexical.lexical_ids`), where
        the texts are at hand; ``vectors``: the rows' :meth:`context_vectors`, if at hand."""
        if vectors is not None:
            contexts = vectors
        else:  # candidates of one context share its row: the context tower runs once per distinct row
            distinct, row_of = np.unique(context_ids.astype(np.int32), axis=0, return_inverse=True)
            contexts = self._contexts(distinct).numpy()[row_of.reshape(-1)]
        candidates = self._responses(candidate_ids.astype(np.int32)).numpy()
        scores = np.sum(contexts * candidates, axis=1)
        if lexical and self.lexical_weight:
            left, right = lexical_rows if lexical_rows is not None else (context_ids, candidate_ids)
            scores = scores + self.lexical_weights(context_ids) * tfidf_cosines(left, right, self.index.idf)
        return scores
