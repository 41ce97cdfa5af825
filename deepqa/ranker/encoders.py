"""Encoder towers of the dual encoder: token ids [B, T] → unit vectors [B, dim].

``bow``: embeddings pooled by masked mean and max, over the whole text and over its last turn (a context
is its turns joined by <eos>, and the question, last, says most), then a dense layer (fast: one matrix
product per token). ``transformer``: keras-hub token and position embedding, ``[ranker] layers`` TransformerEncoder
blocks, masked mean, dense. Id 0 is padding everywhere.
"""

from __future__ import annotations

import keras
import keras_hub
from keras import ops

from deepqa.data.vocab import EOS
from deepqa.errors import ConfigError
from deepqa.registry import RANKER_ENCODERS

NEG = -1e9


def last_turn_mask(ids, mask):
    """1 where a token [B, T] belongs to the last turn: after the last <eos>, or everywhere without one."""
    positions = ops.expand_dims(ops.arange(ops.shape(ids)[1]), 0)
    last_eos = ops.max(ops.where(ops.equal(ids, EOS), positions, -1), axis=1, keepdims=True)
    return ops.logical_and(mask, positions > last_eos)


def masked_max(x, mask):
    """Largest value of x [B, T, H] over the positions where mask [B, T] is 1 (zeros where none is)."""
    largest = ops.max(ops.where(ops.expand_dims(mask, -1), x, NEG), axis=1)
    return ops.where(largest <= NEG / 2, 0.0, largest)


def masked_mean(x, mask):
    """Mean of x [B, T, H] over the positions where mask [B, T] is 1."""
    weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)
    return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)


class Tower(keras.layers.Layer):
    """Base of the towers: ``features`` [B, H] of ids, projected to ``dim`` and normalised to unit length."""

    def __init__(self, vocab_size: int, settings, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.output_projection = keras.layers.Dense(settings.dim, name="projection")

    @classmethod
    def check(cls, settings) -> None:
        """Raise :class:`ConfigError` for ``[ranker]`` settings this tower cannot take."""

    def features(self, ids, mask, training=False):
        """Pooled features [B, H] of ids [B, T]."""
        raise NotImplementedError

    def call(self, ids, training=False):
        mask = ops.not_equal(ids, 0)
        return ops.normalize(self.output_projection(self.features(ids, mask, training)), axis=-1)


@RANKER_ENCODERS.register("bow")
class BagOfEmbeddings(Tower):
    """Masked mean and max of the token embeddings, over all tokens and over the last turn's."""

    def __init__(self, vocab_size: int, settings, max_length: int, **kwargs):
        super().__init__(vocab_size, settings, max_length, **kwargs)
        self.embedding = keras.layers.Embedding(vocab_size, settings.dim, name="embedding")
        self.dropout = keras.layers.Dropout(settings.dropout)

    def features(self, ids, mask, training=False):
        x = self.dropout(self.embedding(ids), training=training)
        last = last_turn_mask(ids, mask)
        return ops.concatenate([masked_mean(x, mask), masked_max(x, mask), masked_mean(x, last), masked_max(x, last)],
                               axis=-1)


@RANKER_ENCODERS.register("transformer")
class TransformerTower(Tower):
    """keras-hub Transformer encoder blocks over token and position embeddings, mean-pooled."""

    @classmethod
    def check(cls, settings) -> None:
        if settings.dim % settings.heads:
            raise ConfigError(f"[ranker] heads = {settings.heads} must divide [ranker] dim = {settings.dim}")

    def __init__(self, vocab_size: int, settings, max_length: int, **kwargs):
        super().__init__(vocab_size, settings, max_length, **kwargs)
        self.embedding = keras_hub.layers.TokenAndPositionEmbedding(vocab_size, max_length, settings.dim,
                                                                    name="embedding")
        self.blocks = [keras_hub.layers.TransformerEncoder(2 * settings.dim, settings.heads, dropout=settings.dropout,
                                                           name=f"block_{i}") for i in range(settings.layers)]

    def features(self, ids, mask, training=False):
        x = self.embedding(ids)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return masked_mean(x, mask)
