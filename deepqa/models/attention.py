"""Attention of decoder states over encoder outputs: Luong ("general") or Bahdanau (additive)."""

from __future__ import annotations

import keras
from keras import ops


class EncoderAttention(keras.layers.Layer):
    """Scores decoder queries against pre-projected encoder keys and returns context vectors.

    Keys are computed once per question by :meth:`keys` (so decoding step by step does not redo
    them); :meth:`call` takes queries [B, Tq, U], keys [B, Tk, U], values [B, Tk, Hv] and the
    encoder mask [B, Tk], and returns contexts [B, Tq, Hv]. Padded encoder positions get no weight.
    """

    def __init__(self, kind: str, units: int, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # masks are applied explicitly through the ``mask`` argument
        self.kind = kind
        self.key_dense = keras.layers.Dense(units, use_bias=kind == "bahdanau", name="key")
        if kind == "bahdanau":
            self.query_dense = keras.layers.Dense(units, use_bias=False, name="query")
            self.score_dense = keras.layers.Dense(1, use_bias=False, name="score")

    def keys(self, encoder_outputs):
        return self.key_dense(encoder_outputs)

    def call(self, queries, keys, values, mask):
        if self.kind == "luong":
            scores = ops.einsum("bqu,bku->bqk", queries, keys)
        else:
            hidden = ops.tanh(ops.expand_dims(self.query_dense(queries), 2) + ops.expand_dims(keys, 1))
            scores = ops.squeeze(self.score_dense(hidden), -1)
        # -1e4 rather than -inf: finite in float16, and exp() of it is still 0.
        scores = ops.where(ops.expand_dims(mask, 1), scores, ops.cast(-1e4, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        return ops.einsum("bqk,bkv->bqv", weights, values)
