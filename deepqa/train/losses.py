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


def sample_candidates(targets, num_sampled: int, vocab_size: int):
    """Draw the negative classes of a sampled softmax (log-uniform: ids are ordered by frequency).

    Kept apart from :func:`sampled_softmax_sum` because the sampler cannot be compiled by XLA.
    Returns (sampled ids [S], expected count of each target [B, T], expected count of each sample [S]).
    """
    labels = tf.reshape(tf.cast(targets, tf.int64), [-1, 1])
    sampled, true_expected, sampled_expected = tf.random.log_uniform_candidate_sampler(
        labels, num_true=1, num_sampled=min(num_sampled, vocab_size - 1), unique=True, range_max=vocab_size)
    return tf.cast(sampled, tf.int32), tf.reshape(true_expected, tf.shape(targets)), sampled_expected


def sampled_softmax_sum(features, targets, weights, biases, candidates):
    """Sum over real tokens of the sampled-softmax loss (Jean et al. 2015) of decoder ``features`` [B, T, H]:
    each target competes with the sampled classes only, logits corrected by their sampling probability."""
    sampled, true_expected, sampled_expected = candidates
    weights, biases = tf.cast(weights, tf.float32), tf.cast(biases, tf.float32)
    features = tf.cast(features, tf.float32)
    true_logits = (tf.reduce_sum(features * tf.gather(weights, targets), axis=-1) + tf.gather(biases, targets)
                   - tf.math.log(true_expected))
    sampled_logits = (tf.einsum("bth,sh->bts", features, tf.gather(weights, sampled)) + tf.gather(biases, sampled)
                      - tf.math.log(sampled_expected))
    accidental = tf.equal(targets[..., None], sampled)  # a sample that is the target itself does not compete
    sampled_logits = tf.where(accidental, tf.constant(-1e9, tf.float32), sampled_logits)
    logits = tf.concat([true_logits[..., None], sampled_logits], axis=-1)
    loss = -tf.nn.log_softmax(logits, axis=-1)[..., 0]
    return tf.reduce_sum(loss * token_mask(targets))


def correct_tokens(logits, targets):
    """How many real target tokens the arg-max of ``logits`` predicts."""
    hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=targets.dtype), targets), tf.float32)
    return tf.reduce_sum(hits * token_mask(targets))
