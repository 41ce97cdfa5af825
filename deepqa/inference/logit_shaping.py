"""In-graph shaping of next-token log-probabilities, shared by every decoding strategy.

Every knob is a tensor, so one compiled graph serves every request whatever its settings:
no ``<pad>``/``<go>`` ever, no ``<unk>`` unless allowed, no ``<eos>`` before the minimum length,
a repetition penalty on tokens already generated, and a ban on repeating an n-gram (n up to
``MAX_NGRAM``). Shapes: B rows (hypotheses), V vocabulary, L maximum reply length.
"""

from __future__ import annotations

import tensorflow as tf

from deepqa.config import MAX_NGRAM
from deepqa.data.vocab import EOS, GO, PAD, UNK

NEG_INF = -1e9


def _ngram_completions(history, step, size):
    """For each start j of an n-gram of ``size`` in ``history`` [B, L]: whether it matches the last size-1
    generated tokens (so its following token would repeat it), and that following token; both [B, L].

    ``history`` holds the tokens generated before ``step``.
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
    return match, following


def history_adjustments(history, step, repetition_penalty, no_repeat_size, vocab_size):
    """[B, V] additions to the scores from what each row generated before ``step`` (``history`` [B, L]):
    ``-log(repetition_penalty)`` for tokens already generated, ``NEG_INF`` for tokens that would repeat an
    n-gram of ``no_repeat_size`` (0: none).

    One scatter of B x 2L updates builds it, rather than carrying a [B, V] table of seen tokens through
    the loop: for beam search that table would be gathered again at every step.
    """
    rows, length = tf.shape(history)[0], tf.shape(history)[1]
    row_ids = tf.broadcast_to(tf.range(rows)[:, None], [rows, length])
    generated = tf.broadcast_to(tf.range(length)[None, :] < step, [rows, length])
    penalty = tf.where(generated, -tf.math.log(repetition_penalty), 0.0)
    match, following = _ngram_completions(history, step, no_repeat_size)
    ban = tf.where(match, NEG_INF, 0.0)
    indices = tf.stack([tf.concat([row_ids, row_ids], 1),
                        tf.clip_by_value(tf.concat([history, following], 1), 0, vocab_size - 1)], axis=-1)
    updates = tf.concat([penalty, ban], 1)
    return tf.tensor_scatter_nd_min(tf.zeros([rows, vocab_size]), tf.reshape(indices, [-1, 2]),
                                    tf.reshape(updates, [-1]))


def shape_scores(log_probs, history, step, allow_unk, min_length, repetition_penalty, no_repeat_size):
    """Shaped scores [B, V] from log-probabilities [B, V] and the tokens generated so far (``history`` [B, L])."""
    vocab_size = tf.shape(log_probs)[1]
    always = tf.one_hot(PAD, vocab_size) + tf.one_hot(GO, vocab_size)
    unk = tf.one_hot(UNK, vocab_size) * tf.cast(tf.logical_not(allow_unk), tf.float32)
    early_eos = tf.one_hot(EOS, vocab_size) * tf.cast(step < min_length, tf.float32)
    banned = tf.minimum(always + unk + early_eos, 1.0)[None, :]
    scores = log_probs + history_adjustments(history, step, repetition_penalty, no_repeat_size, vocab_size)
    return tf.where(tf.logical_or(banned > 0, scores < NEG_INF / 2), tf.constant(NEG_INF, scores.dtype), scores)


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
