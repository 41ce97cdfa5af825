"""In-graph shaping of next-token log-probabilities, shared by every decoding strategy.

Every knob is a tensor, so one compiled graph serves every request whatever its settings:
no ``<pad>``/``<go>`` ever, no ``<unk>`` unless allowed, no ``<eos>`` before the minimum length,
a repetition penalty on tokens already generated, and a ban on repeating an n-gram (n up to
``MAX_NGRAM``). Shapes: B rows (hypotheses), V vocabulary, L maximum reply length.
"""

from __future__ import annotations

import tensorflow as tf

from deepqa.vocab import EOS, GO, PAD, UNK

NEG_INF = -1e9
MAX_NGRAM = 6


def banned_ngram_tokens(history, step, size, vocab_size):
    """[B, V] 1.0 for each token that would complete an n-gram of ``size`` already in ``history`` [B, L].

    ``history`` holds the tokens generated before ``step``; an n-gram starting at j is a match when its
    first size-1 tokens equal the last size-1 generated tokens.
    """
    length = tf.shape(history)[1]
    padded = tf.pad(history, [[0, 0], [0, MAX_NGRAM]], constant_values=-1)
    starts = tf.range(length)
    match = tf.ones_like(history, dtype=tf.bool)
    for offset in range(MAX_NGRAM - 1):  # compare position j + offset with the tail's position offset
        in_prefix = offset < size - 1
        window = padded[:, offset:offset + length]
        tail_index = tf.clip_by_value(step - size + 1 + offset, 0, length - 1)
        tail = tf.gather(history, tail_index, axis=1)[:, None]
        match &= tf.logical_or(tf.logical_not(in_prefix), tf.equal(window, tail))
    complete = starts + size - 1 < step  # the whole n-gram lies in what was generated
    active = tf.logical_and(size > 0, step >= size - 1)
    match &= complete[None, :] & active
    following = tf.gather(padded, tf.clip_by_value(starts + size - 1, 0, length + MAX_NGRAM - 1), axis=1)
    # Scatter a 1 at (row, following token) for each match: B x L updates instead of a B x L x V one-hot.
    rows = tf.broadcast_to(tf.range(tf.shape(history)[0])[:, None], tf.shape(following))
    indices = tf.stack([rows, tf.clip_by_value(following, 0, vocab_size - 1)], axis=-1)
    updates = tf.cast(match, tf.float32)
    return tf.tensor_scatter_nd_max(tf.zeros([tf.shape(history)[0], vocab_size]), tf.reshape(indices, [-1, 2]),
                                    tf.reshape(updates, [-1]))


def shape_scores(log_probs, history, seen, step, allow_unk, min_length, repetition_penalty, no_repeat_size):
    """Shaped scores [B, V] from log-probabilities [B, V]; ``seen`` [B, V] marks tokens already generated."""
    vocab_size = tf.shape(log_probs)[1]
    always = tf.one_hot(PAD, vocab_size) + tf.one_hot(GO, vocab_size)
    unk = tf.one_hot(UNK, vocab_size) * tf.cast(tf.logical_not(allow_unk), tf.float32)
    early_eos = tf.one_hot(EOS, vocab_size) * tf.cast(step < min_length, tf.float32)
    banned = tf.minimum(always + unk + early_eos, 1.0)[None, :]
    banned = tf.cond(no_repeat_size > 0,
                     lambda: tf.maximum(banned, banned_ngram_tokens(history, step, no_repeat_size, vocab_size)),
                     lambda: tf.tile(banned, [tf.shape(log_probs)[0], 1]))
    scores = log_probs - seen * tf.math.log(repetition_penalty)
    return tf.where(banned > 0, tf.constant(NEG_INF, scores.dtype), scores)


def restrict_for_sampling(scores, temperature, top_k, top_p):
    """Scores for sampling: divided by ``temperature``, keeping the ``top_k`` best (0: all) and the smallest
    set whose probability reaches ``top_p``."""
    scores = scores / temperature
    vocab_size = tf.shape(scores)[1]

    def keep_top_k():
        # A full sort and a gather rather than top_k(k): shapes stay static, which XLA needs.
        ordered = tf.sort(scores, direction="DESCENDING", axis=-1)
        kth_best = tf.gather(ordered, tf.clip_by_value(top_k, 1, vocab_size) - 1, axis=1)[:, None]
        return tf.where(scores < kth_best, tf.constant(NEG_INF, scores.dtype), scores)

    def keep_nucleus(scores):
        ordered = tf.sort(scores, direction="DESCENDING", axis=-1)
        before = tf.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
        kept = tf.where(before < top_p, ordered, tf.constant(-NEG_INF, scores.dtype))
        threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
        return tf.where(scores < threshold, tf.constant(NEG_INF, scores.dtype), scores)

    # Each restriction sorts the vocabulary: skip it when it is off.
    scores = tf.cond(top_k > 0, keep_top_k, lambda: scores)
    return tf.cond(top_p < 1.0, lambda: keep_nucleus(scores), lambda: scores)
