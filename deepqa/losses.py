"""Masked token losses and metrics: cross-entropy (optionally label-smoothed), sampled softmax, accuracy.

Every function returns sums over the non-padding target tokens, not means, so that replicas and
batches can be added up exactly before dividing by the total number of tokens.
"""

from __future__ import annotations

import tensorflow as tf


def token_mask(targets):
    """1.0 where the target is a real token, 0.0 on padding."""
    return tf.cast(tf.not_equal(targets, 0), tf.float32)


def cross_entropy_sum(logits, targets, label_smoothing: float = 0.0):
    """Sum over real tokens of the cross-entropy of ``logits`` [B, T, V] against ``targets`` [B, T]."""
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    nll = -tf.gather(log_probs, targets, axis=-1, batch_dims=2)
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * tf.reduce_mean(log_probs, axis=-1)
    return tf.reduce_sum(nll * token_mask(targets))


def sampled_softmax_sum(features, targets, weights, biases, num_sampled: int, vocab_size: int):
    """Sum over real tokens of the sampled-softmax loss of decoder ``features`` [B, T, H]."""
    mask = tf.reshape(token_mask(targets), [-1])
    flat_features = tf.cast(tf.reshape(features, [-1, tf.shape(features)[-1]]), tf.float32)
    labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
    losses = tf.nn.sampled_softmax_loss(tf.cast(weights, tf.float32), tf.cast(biases, tf.float32), labels,
                                        flat_features, num_sampled=min(num_sampled, vocab_size - 1),
                                        num_classes=vocab_size)
    return tf.reduce_sum(losses * mask)


def correct_tokens(logits, targets):
    """How many real target tokens the arg-max of ``logits`` predicts."""
    hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=targets.dtype), targets), tf.float32)
    return tf.reduce_sum(hits * token_mask(targets))
