"""Encoder towers of the dual encoder: token ids [B, T] → unit vectors [B, dim].

``bow``: embeddings pooled by masked mean and max, over the whole text and over its last turn (a context
is its turns joined by <eos>, and the question, last, says most), then a dense layer (fast: one matrix
product per token); optionally one embedding table for both towers (``[ranker] share_embedding``) and
word vectors that add the mean of their pieces' (``[ranker] word_pieces``, :mod:`deepqa.ranker.pieces`).
``transformer``: keras-hub token and position embedding, ``[ranker] layers`` TransformerEncoder blocks,
masked mean, dense. Id 0 is padding everywhere.
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

from deepqa.data.vocab import EOS
from deepqa.errors import ConfigError
from deepqa.ranker.pieces import piece_table
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


class WordPieces(keras.layers.Layer):
    """Piece embeddings [P, dim] and the table of each word's pieces (:func:`piece_table`): ``call`` adds to
    each row of a word embedding matrix [V, dim] the mean of its word's piece vectors, as one sparse product
    per batch rather than a gather per token."""

    def __init__(self, table, dim: int, **kwargs):
        super().__init__(**kwargs)
        rows, columns = np.nonzero(table)
        counts = np.maximum((table > 0).sum(axis=1), 1)
        self.count, self.dim = int(table.max()) + 1, dim
        self.table = tf.sparse.reorder(tf.SparseTensor(
            np.stack([rows, table[rows, columns]], axis=1).astype(np.int64),
            (1.0 / counts[rows]).astype(np.float32), (table.shape[0], self.count)))

    def build(self, input_shape=None):
        self.vectors = self.add_weight(shape=(self.count, self.dim), initializer="uniform", name="vectors")

    def call(self, word_embeddings):
        return word_embeddings + tf.sparse.sparse_dense_matmul(self.table, self.vectors)


class Tower(keras.layers.Layer):
    """Base of the towers: ``features`` [B, H] of ids, projected to ``dim`` and normalised to unit length."""

    def __init__(self, vocab_size: int, settings, max_length: int, shared=None, words=None, single_turn=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.output_projection = keras.layers.Dense(settings.dim, name="projection")
        self.single_turn = single_turn  # its texts are one turn (answers): no <eos> joins turns in them

    @classmethod
    def check(cls, settings) -> None:
        """Raise :class:`ConfigError` for ``[ranker]`` settings this tower cannot take."""

    def features(self, ids, mask, training=False, table=None):
        """Pooled features [B, H] of ids [B, T] (``table``: what :meth:`word_table` made, if anything)."""
        raise NotImplementedError

    def shareable(self) -> dict:
        """The layers another tower may share with this one (``[ranker] share_embedding``)."""
        return {}

    def word_table(self):
        """The matrix [V, dim] of word vectors that ``call`` looks ids up in, when the tower has one that costs
        more than a lookup to make (so that two towers sharing it make it once a step); else None."""
        return None

    def freeze(self) -> None:
        """Make once what the tower would make at every call from weights that no longer change (for answering)."""

    def call(self, ids, training=False, table=None):
        mask = ops.not_equal(ids, 0)
        return ops.normalize(self.output_projection(self.features(ids, mask, training, table)), axis=-1)


@RANKER_ENCODERS.register("bow")
class BagOfEmbeddings(Tower):
    """Masked mean and max of the token embeddings, over all tokens and over the last turn's."""

    def __init__(self, vocab_size: int, settings, max_length: int, shared=None, words=None, **kwargs):
        super().__init__(vocab_size, settings, max_length, **kwargs)
        shared = shared or {}
        self.embedding = shared.get("embedding") or keras.layers.Embedding(vocab_size, settings.dim, name="embedding")
        self.pieces = self.frozen_table = None
        if settings.word_pieces:
            if words is None or len(words) != vocab_size:
                raise ConfigError("[ranker] word_pieces needs the vocabulary's words")
            self.pieces = shared.get("pieces") or WordPieces(piece_table(words), settings.dim, name="pieces")
        self.dropout = keras.layers.Dropout(settings.dropout)

    def shareable(self) -> dict:
        return {"embedding": self.embedding, "pieces": self.pieces}

    def word_table(self):
        """Each word's embedding plus the mean of its pieces' [V, dim], with word pieces; else None."""
        if self.pieces is None:
            return None
        if self.frozen_table is not None:
            return self.frozen_table
        if not self.embedding.built:
            self.embedding.build(None)
        return self.pieces(self.embedding.embeddings)

    def freeze(self) -> None:
        """Make the word table once, for a tower that no longer learns (answering, not training)."""
        if self.pieces is not None:
            self.frozen_table = None
            self.frozen_table = ops.convert_to_tensor(self.word_table())

    def word_vectors(self, ids, table=None):
        """Embeddings [B, T, dim] of ids [B, T]: the word's own, plus the mean of its pieces' if it has any."""
        table = self.word_table() if table is None else table
        return self.embedding(ids) if table is None else ops.take(table, ids, axis=0)

    def features(self, ids, mask, training=False, table=None):
        x = self.dropout(self.word_vectors(ids, table), training=training)
        whole = [masked_mean(x, mask), masked_max(x, mask)]
        if self.single_turn:  # the last turn is the whole text: the same features, made once
            return ops.concatenate(whole + whole, axis=-1)
        last = last_turn_mask(ids, mask)
        return ops.concatenate(whole + [masked_mean(x, last), masked_max(x, last)], axis=-1)


@RANKER_ENCODERS.register("transformer")
class TransformerTower(Tower):
    """keras-hub Transformer encoder blocks over token and position embeddings, mean-pooled."""

    @classmethod
    def check(cls, settings) -> None:
        if settings.dim % settings.heads:
            raise ConfigError(f"[ranker] heads = {settings.heads} must divide [ranker] dim = {settings.dim}")
        for name in ("share_embedding", "word_pieces"):
            if getattr(settings, name):
                raise ConfigError(f"[ranker] {name} is a setting of the bow encoder, not of {settings.encoder}")

    def __init__(self, vocab_size: int, settings, max_length: int, shared=None, words=None, **kwargs):
        super().__init__(vocab_size, settings, max_length, **kwargs)
        self.embedding = keras_hub.layers.TokenAndPositionEmbedding(vocab_size, max_length, settings.dim,
                                                                    name="embedding")
        self.blocks = [keras_hub.layers.TransformerEncoder(2 * settings.dim, settings.heads, dropout=settings.dropout,
                                                           name=f"block_{i}") for i in range(settings.layers)]

    def features(self, ids, mask, training=False, table=None):
        x = self.embedding(ids)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return masked_mean(x, mask)
