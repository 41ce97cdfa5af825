"""The dual encoder: one tower for the context and question, one for the answer; their dot product
(cosine, the towers' outputs being unit vectors) scores how well an answer fits. With ``[ranker] ensemble``
of N, N such pairs of towers learn side by side, each with its own loss, and the score is the mean of
their cosines: a context's vector is its N members' vectors joined and divided by sqrt(N)."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from deepqa.registry import RANKER_ENCODERS


class DualEncoder(keras.Model):
    """Context towers and response towers of ``[ranker] encoder`` over the vocabulary ``words`` (id order),
    ``[ranker] ensemble`` pairs of them; ``call`` gives the in-batch score matrix."""

    def __init__(self, words: Sequence[str], settings, context_length: int, response_length: int, **kwargs):
        super().__init__(**kwargs)
        tower = RANKER_ENCODERS.get(settings.encoder)
        self.context_towers, self.response_towers = [], []
        for member in range(settings.ensemble):
            suffix = f"_{member}" if member else ""  # the first pair keeps the names of a single one
            context = tower(len(words), settings, context_length, words=words, name=f"context{suffix}")
            shared = context.shareable() if settings.share_embedding else None
            self.context_towers.append(context)
            self.response_towers.append(tower(len(words), settings, response_length, shared=shared, words=words,
                                              single_turn=True, name=f"response{suffix}"))
        self.temperature, self.shared = settings.temperature, settings.share_embedding
        self.width = settings.dim * settings.ensemble  # of the vectors that contexts and responses give

    @staticmethod
    def _joined(vectors):
        return vectors[0] if len(vectors) == 1 else ops.concatenate(vectors, axis=-1) / len(vectors) ** 0.5

    def contexts(self, ids, training=False):
        """Unit vectors [B, ensemble x dim] of context-and-question ids [B, T]."""
        return self._joined([tower(ids, training=training) for tower in self.context_towers])

    def responses(self, ids, training=False):
        """Unit vectors [B, ensemble x dim] of answer ids [B, T]."""
        return self._joined([tower(ids, training=training) for tower in self.response_towers])

    def freeze(self) -> None:
        """Prepare the towers for answering with their current weights (see :meth:`deepqa.ranker.encoders.Tower.freeze`)."""
        for tower in [*self.context_towers, *self.response_towers]:
            tower.freeze()

    def member_logits(self, inputs, training=False):
        """Logits [ensemble, B, B] of each pair of towers: each context against each answer of the batch,
        divided by the temperature."""
        members = []
        for contexts, responses in zip(self.context_towers, self.response_towers):
            table = contexts.word_table() if self.shared else None  # made once for both towers
            members.append(ops.matmul(contexts(inputs["context_ids"], training=training, table=table),
                                      ops.transpose(responses(inputs["response_ids"], training=training,
                                                              table=table))))
        return ops.stack(members) / self.temperature

    def call(self, inputs, training=False):
        """Logits [B, B]: the mean of the members' (the whole model's cosines, divided by the temperature)."""
        return ops.mean(self.member_logits(inputs, training), axis=0)
