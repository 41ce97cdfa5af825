"""tf.data input for training: samples → ``({"encoder_ids", "decoder_ids"}, targets)`` batches.

Decoder ids are ``<go>`` + answer and targets are answer + ``<eos>``; id 0 pads. Batches are bucketed
by length, so a batch of short pairs is not padded to the longest pair of the corpus; with
``fixed_shapes`` every batch of a bucket is padded to the bucket's bound, so a compiled (XLA) step
sees only a handful of shapes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from deepqa.data.samples import Samples
from deepqa.data.vocab import EOS, GO


def bucket_boundaries(samples: Samples, buckets: int) -> list[int]:
    """Length bounds that split the samples into ``buckets`` groups of about equal size."""
    lengths = np.maximum(samples.question_lengths, samples.answer_lengths + 1)
    if buckets <= 1 or len(lengths) == 0:
        return []
    quantiles = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in quantiles if q + 1 <= lengths.max()})


def _examples(samples: Samples) -> tf.data.Dataset:
    encoder = tf.RaggedTensor.from_row_splits(samples.encoder_values, samples.encoder_offsets)
    answers = tf.RaggedTensor.from_row_splits(samples.decoder_values, samples.decoder_offsets)
    return tf.data.Dataset.from_tensor_slices((encoder, answers))


def _with_specials(encoder, answer):
    go, eos = tf.constant([GO], answer.dtype), tf.constant([EOS], answer.dtype)
    return encoder, tf.concat([go, answer], 0), tf.concat([answer, eos], 0)


def _as_inputs(encoder, decoder, targets):
    return {"encoder_ids": encoder, "decoder_ids": decoder}, targets


def make_dataset(samples: Samples, batch_size: int, *, shuffle: bool = False, seed: int = 0, buckets: int = 1,
                 max_question_length: int | None = None, decoder_length: int | None = None,
                 fixed_shapes: bool = False, repeat: bool = False, drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of ``samples``; ``buckets`` > 1 groups similar lengths, 1 pads every batch to its longest pair.

    With ``fixed_shapes`` (and no bucketing), batches are padded to the maximum lengths given.
    """
    dataset = _examples(samples)
    if shuffle:
        dataset = dataset.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(_with_specials, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda e, d, t: (e.to_tensor() if isinstance(e, tf.RaggedTensor) else e, d, t))
    boundaries = bucket_boundaries(samples, buckets)
    if boundaries:
        top = int(max(samples.question_lengths.max(), samples.answer_lengths.max() + 1)) + 1
        bounds = boundaries + ([top] if fixed_shapes and top > boundaries[-1] else [])
        dataset = dataset.bucket_by_sequence_length(
            lambda e, d, t: tf.maximum(tf.shape(e)[0], tf.shape(d)[0]), bounds, [batch_size] * (len(bounds) + 1),
            pad_to_bucket_boundary=fixed_shapes, drop_remainder=drop_remainder)
    elif fixed_shapes:
        shapes = ([max_question_length], [decoder_length], [decoder_length])
        dataset = dataset.padded_batch(batch_size, padded_shapes=shapes, drop_remainder=drop_remainder)
    else:
        dataset = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    return dataset.map(_as_inputs).prefetch(tf.data.AUTOTUNE)
