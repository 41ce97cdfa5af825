"""Generation with a model's cached ``decode_step``: greedy, beam search, and top-k / top-p sampling.

The model's ``encode`` and ``decode_step`` are wrapped once in ``tf.function``s whose input signatures
leave batch and length dimensions open, so a server decodes any number of questions of any length
without tracing again. Each step feeds one token per hypothesis and carries the model's state
(LSTM states, Transformer key/value caches); the strategies shape the logits between steps:
temperature, top-k, top-p, a repetition penalty, a ban on repeated n-grams, a minimum length, and no
``<pad>``, ``<go>`` or (unless allowed) ``<unk>``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import tensorflow as tf

from deepqa.config import DecodeConfig
from deepqa.errors import ConfigError
from deepqa.models.base import Seq2Seq
from deepqa.text import Tokenizer
from deepqa.vocab import EOS, GO, PAD, UNK, Vocabulary

NEG_INF = -1e9


def checked_options(options: DecodeConfig, limit: int) -> DecodeConfig:
    """``options`` with ``max_length`` resolved (0: ``limit``) and capped at ``limit``, the model's longest reply."""
    if options.strategy == "beam" and options.num_answers > options.beam_width:
        raise ConfigError(f"[decode] num_answers {options.num_answers} must not exceed beam_width {options.beam_width}")
    length = min(options.max_length or limit, limit)
    return replace(options, max_length=length, min_length=min(options.min_length, length))


@dataclass
class Hypothesis:
    """One generated answer: its ids (without <go>/<eos>) and its score (mean log-probability per token,
    length-penalised for beam search)."""

    ids: list[int]
    score: float


class Decoder:
    """Cached, compiled generation for one model."""

    def __init__(self, model: Seq2Seq, max_length: int):
        self.model = model
        self.max_length = max_length
        self._encode = tf.function(lambda ids: model.encode(ids, max_length),
                                   input_signature=[tf.TensorSpec([None, None], tf.int32)])
        self._step = None

    def _state_signature(self):
        """The state's TensorSpecs with open batch and question-length dimensions: the dimensions that
        differ between the states of two differently shaped dummy batches."""
        first = self._encode(tf.ones((1, 2), tf.int32))
        second = self._encode(tf.ones((2, 3), tf.int32))
        return tf.nest.map_structure(
            lambda a, b: tf.TensorSpec([x if x == y else None for x, y in zip(a.shape, b.shape)], a.dtype),
            first, second)

    def encode(self, encoder_ids: np.ndarray):
        """The decoding state for a batch of encoder ids (compiled once)."""
        if self._step is None:
            self._step = tf.function(self.model.decode_step, input_signature=[
                tf.TensorSpec([None], tf.int32), self._state_signature(), tf.TensorSpec([], tf.int32)])
        return self._encode(tf.constant(encoder_ids, tf.int32))

    def step(self, tokens: np.ndarray, state, index: int):
        """Log-probabilities [B, V] (as numpy) of the next token, and the next state (compiled once)."""
        logits, state = self._step(tf.constant(tokens, tf.int32), state, tf.constant(index, tf.int32))
        return tf.nn.log_softmax(logits).numpy(), state

    # ---- logit shaping ---------------------------------------------------------------------------
    @staticmethod
    def _shape(log_probs: np.ndarray, histories: list[list[int]], options: DecodeConfig, length: int) -> np.ndarray:
        scores = log_probs.astype(np.float64)
        scores[:, PAD] = NEG_INF
        scores[:, GO] = NEG_INF
        if not options.allow_unk:
            scores[:, UNK] = NEG_INF
        if length < options.min_length:
            scores[:, EOS] = NEG_INF
        for row, history in enumerate(histories):
            if options.repetition_penalty > 1.0 and history:
                seen = np.unique(history)
                scores[row, seen] -= np.log(options.repetition_penalty)
            size = options.no_repeat_ngram_size
            if size and len(history) >= size - 1:
                prefix = tuple(history[len(history) - size + 1:]) if size > 1 else ()
                for start in range(len(history) - size + 1):
                    if tuple(history[start:start + size - 1]) == prefix:
                        scores[row, history[start + size - 1]] = NEG_INF
        return scores

    # ---- strategies ------------------------------------------------------------------------------
    def generate(self, encoder_ids: np.ndarray, options: DecodeConfig) -> list[list[Hypothesis]]:
        """For each row of ``encoder_ids`` (right-padded, at most the model's question length),
        ``options.num_answers`` hypotheses, best first."""
        options = checked_options(options, self.max_length)
        if options.strategy == "beam":
            return [self._beam(encoder_ids[row:row + 1], options) for row in range(len(encoder_ids))]
        repeated = np.repeat(encoder_ids, options.num_answers, axis=0)
        flat = self._sample_or_greedy(repeated, options)
        grouped = [flat[i:i + options.num_answers] for i in range(0, len(flat), options.num_answers)]
        return [sorted(group, key=lambda h: -h.score) for group in grouped]

    def _sample_or_greedy(self, encoder_ids: np.ndarray, options: DecodeConfig) -> list[Hypothesis]:
        rng = np.random.default_rng(None if options.seed < 0 else options.seed)
        state = self.encode(encoder_ids)
        batch = len(encoder_ids)
        tokens = np.full(batch, GO, dtype=np.int32)
        histories: list[list[int]] = [[] for _ in range(batch)]
        totals = np.zeros(batch)
        done = np.zeros(batch, dtype=bool)
        for index in range(options.max_length):
            log_probs, state = self.step(tokens, state, index)
            scores = self._shape(log_probs, histories, options, index)
            if options.strategy == "greedy":
                chosen = scores.argmax(axis=-1)
            else:
                chosen = np.array([_sample(row, options, rng) for row in scores])
            if index == options.max_length - 1:
                chosen = np.where(done, PAD, chosen)
            for row in np.flatnonzero(~done):
                token = int(chosen[row])
                totals[row] += log_probs[row, token]
                if token == EOS:
                    done[row] = True
                else:
                    histories[row].append(token)
            tokens = np.where(done, EOS, chosen).astype(np.int32)
            if done.all():
                break
        steps = np.array([len(h) + 1 for h in histories])
        return [Hypothesis(h, float(t / n)) for h, t, n in zip(histories, totals, steps)]

    def _beam(self, encoder_ids: np.ndarray, options: DecodeConfig) -> list[Hypothesis]:
        width = options.beam_width
        state = self.encode(np.repeat(encoder_ids, width, axis=0))
        tokens = np.full(width, GO, dtype=np.int32)
        beams: list[list[int]] = [[] for _ in range(width)]
        sums = np.full(width, NEG_INF)
        sums[0] = 0.0  # all beams start identical: expand only the first at step 0
        finished: list[Hypothesis] = []
        for index in range(options.max_length):
            log_probs, state = self.step(tokens, state, index)
            scores = self._shape(log_probs, beams, options, index) + sums[:, None]
            flat = np.argsort(scores, axis=None)[::-1][:2 * width]
            next_beams, next_sums, origins, next_tokens = [], [], [], []
            for rank, position in enumerate(flat):
                origin, token = divmod(int(position), scores.shape[1])
                total = scores[origin, token]
                if total <= NEG_INF / 2:
                    break
                if token == EOS:
                    if rank < width:  # an ending counts only when it ranks among the live beams
                        finished.append(Hypothesis(beams[origin], _penalised(total, len(beams[origin]) + 1,
                                                                             options.length_penalty)))
                    continue
                next_beams.append(beams[origin] + [token])
                next_sums.append(total)
                origins.append(origin)
                next_tokens.append(token)
                if len(next_beams) == width:
                    break
            # Stop once as many hypotheses have ended as there are beams (so width 1 is exactly greedy).
            if len(finished) >= width or not next_beams:
                break
            while len(next_beams) < width:  # keep the batch shape: pad with a dead copy
                next_beams.append(next_beams[0])
                next_sums.append(NEG_INF)
                origins.append(origins[0])
                next_tokens.append(next_tokens[0])
            state = tf.nest.map_structure(lambda t: tf.gather(t, origins), state)
            beams, sums, tokens = next_beams, np.array(next_sums), np.array(next_tokens, dtype=np.int32)
        else:  # the maximum length came first: the live beams end here
            finished += [Hypothesis(ids, _penalised(total, len(ids) + 1, options.length_penalty))
                         for ids, total in zip(beams, sums) if total > NEG_INF / 2]
        finished.sort(key=lambda h: -h.score)
        return finished[:options.num_answers]


def _penalised(total_log_prob: float, length: int, alpha: float) -> float:
    """GNMT length normalisation: log-probability divided by ((5 + length) / 6) ** alpha."""
    return float(total_log_prob / (((5.0 + length) / 6.0) ** alpha))


def _sample(scores: np.ndarray, options: DecodeConfig, rng: np.random.Generator) -> int:
    logits = scores / options.temperature
    if options.top_k:
        cutoff = np.partition(logits, -options.top_k)[-options.top_k]
        logits = np.where(logits < cutoff, NEG_INF, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if options.top_p < 1.0:
        order = np.argsort(probs)[::-1]
        keep = np.cumsum(probs[order]) - probs[order] < options.top_p  # the smallest set reaching top_p
        mask = np.zeros_like(probs, dtype=bool)
        mask[order[keep]] = True
        probs = np.where(mask, probs, 0.0)
        probs /= probs.sum()
    return int(rng.choice(len(probs), p=probs))


def encode_questions(questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                     max_length: int) -> np.ndarray:
    """Encoder ids [B, Te] of the questions, each keeping its last ``max_length`` tokens, padded with 0."""
    rows = [vocabulary.encode(tokenizer.tokenize(question))[-max_length:] for question in questions]
    width = max(1, max((len(row) for row in rows), default=1))
    batch = np.zeros((len(rows), width), dtype=np.int32)
    for index, row in enumerate(rows):
        batch[index, :len(row)] = row
    return batch


def reply_texts(decoder: Decoder, questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                max_question_length: int, options: DecodeConfig) -> list[str]:
    """The best reply to each question, detokenized (the probe questions of training use it)."""
    encoder_ids = encode_questions(questions, tokenizer, vocabulary, max_question_length)
    results = decoder.generate(encoder_ids, replace(options, num_answers=1))
    return [tokenizer.detokenize(vocabulary.decode(best[0].ids)) if best else "" for best in results]
