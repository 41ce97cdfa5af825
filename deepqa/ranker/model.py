"""The dual encoder: one tower for the context and question, one for the answer; their dot product
(cosine, the towers' outputs being unit vectors) scores how well an answer fits."""

from __future__ import annotations

import keras
from keras import ops

from deepqa.registry import RANKER_ENCODERS


class DualEncoder(keras.Model):
    """Context tower and response tower of ``[ranker] encoder``; ``call`` gives the in-batch score matrix."""

    def __init__(self, vocab_size: int, settings, context_length: int, response_length: int, **kwargs):
        super().__init__(**kwargs)
        tower = RANKER_ENCODERS.get(settings.encoder)
        self.context_tower = tower(vocab_size, settings, context_length, name="context")
        self.response_tower = tower(vocab_size, settings, response_length, name="response")
        self.temperature = settings.temperature

    def contexts(self, ids, training=False):
        """Unit vectors [B, dim] of context-and-question ids [B, T]."""
        return self.context_tower(ids, training=training)

    def responses(self, ids, training=False):
        """Unit vectors [B, dim] of answer ids [B, T]."""
        return self.response_tower(ids, training=training)

    def call(self, inputs, training=False):
        """Logits [B, B]: each context against each answer of the batch, divided by the temperature."""
        contexts = self.contexts(inputs["context_ids"], training)
        responses = self.responses(inputs["response_ids"], training)
        return ops.matmul(contexts, ops.transpose(responses)) / self.temperature
