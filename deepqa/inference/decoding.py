"""Generation with a model's cached ``decode_step``: greedy, beam search, and top-k / top-p sampling.

Each strategy is one compiled ``tf.while_loop`` whose input signature leaves batch and length
dimensions open, so a server decodes any number of questions of any length without tracing again.
Each step feeds one token per hypothesis and carries the model's state (LSTM states, Transformer
key/value caches); :mod:`deepqa.inference.logit_shaping` shapes the scores between steps: temperature, top-k,
top-p, a repetition penalty, a ban on repeated n-grams, a minimum length, and no ``<pad>``, ``<go>``
or (unless allowed) ``<unk>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from deepqa.config import DecodeConfig
from deepqa.inference.logit_shaping import NEG_INF, restrict_for_sampling, shape_scores
from deepqa.models.base import Seq2Seq
from deepqa.registry import STRATEGIES
from deepqa.data.text import Tokenizer
from deepqa.data.vocab import EOS, GO, PAD, Vocabulary


def checked_options(options: DecodeConfig, limit: int) -> DecodeConfig:
    """``options`` with ``max_length`` resolved (0: ``limit``) and capped at ``limit``, the model's longest reply."""
    length = min(options.max_length or limit, limit)
    return options.replace(max_length=length, min_length=min(options.min_length, length))


@dataclass
class Hypothesis:
    """One generated answer: its ids (without <go>/<eos>) and its score (mean log-probability per token,
    length-penalised for beam search)."""

    ids: list[int]
    score: float


class Decoder:
    """Cached generation for one model, each strategy one compiled ``tf.while_loop``.

    The loop calls the model's ``decode_step`` once per token and keeps every hypothesis' state on the
    device. Sampling and greedy decoding share one graph (greedy is arg-max); beam search has one graph
    per beam width. All other settings are tensors, so requests never trigger a new trace.
    """

    def __init__(self, model: Seq2Seq, max_length: int, xla: bool = False):
        self.model = model
        self.max_length = max_length
        self.vocab_size = int(model.vocab_size)
        self.xla = xla
        self.question_length = model.question_length
        ids = tf.TensorSpec([None, None], tf.int32)
        self._sample = tf.function(self._sample_graph, input_signature=[ids, _KNOB_SPECS], jit_compile=xla)
        self._beams: dict[int, tf.types.experimental.GenericFunction] = {}
        self._compiled: set[tuple] = set()

    @property
    def compilations(self) -> int:
        """Graphs built so far: one per graph without XLA (any shape), one per graph and input shape with it."""
        return len(self._compiled)

    def _note_compilation(self, graph: str, ids: np.ndarray) -> None:
        self._compiled.add((graph, ids.shape) if self.xla else (graph,))

    def batch_size_for(self, rows: int) -> int:
        """The batch size that ``rows`` questions are decoded at: with XLA the next compiled size, else ``rows``."""
        return padded_batch_size(rows) if self.xla else rows

    def _fixed_shape(self, encoder_ids: np.ndarray) -> np.ndarray:
        """With XLA, which compiles once per shape: questions padded to the model's question length, and
        the batch to the next compiled size, so that a handful of shapes serve every request."""
        if not self.xla:
            return encoder_ids
        rows = padded_batch_size(len(encoder_ids))
        fixed = np.zeros((rows, self.question_length), dtype=np.int32)
        width = min(encoder_ids.shape[1], self.question_length)
        fixed[:len(encoder_ids), :width] = encoder_ids[:, :width]
        return fixed

    def generate(self, encoder_ids: np.ndarray, options: DecodeConfig) -> list[list[Hypothesis]]:
        """For each row of ``encoder_ids`` (right-padded, at most the model's question length),
        ``options.num_answers`` hypotheses, best first."""
        options = checked_options(options, self.max_length)
        return STRATEGIES.get(options.strategy).generate(self, np.asarray(encoder_ids), options)

    def beam_search(self, encoder_ids: np.ndarray, options: DecodeConfig) -> list[list[Hypothesis]]:
        """The ``options.beam_width`` hypotheses of each question's beam, best first (one graph per width)."""
        width, count = options.beam_width, len(encoder_ids)
        if width not in self._beams:
            self._beams[width] = tf.function(lambda ids, k: self._beam_graph(ids, k, width), jit_compile=self.xla,
                                             input_signature=[tf.TensorSpec([None, None], tf.int32), _KNOB_SPECS])
        fixed = self._fixed_shape(encoder_ids)
        self._note_compilation(f"beam{width}", fixed)
        outputs = self._beams[width](tf.constant(fixed), _knobs(options, greedy=False))
        history, scores, lengths = (t.numpy()[:count * width] for t in outputs)
        return _best_first(_hypotheses(history, scores, lengths).reshape(count, width), options.num_answers)

    def sample(self, encoder_ids: np.ndarray, options: DecodeConfig, greedy: bool) -> list[list[Hypothesis]]:
        """``options.num_answers`` hypotheses per question, each token drawn from the shaped distribution
        (or its arg-max when ``greedy``); one graph serves both."""
        count = len(encoder_ids)
        repeated = np.repeat(encoder_ids, options.num_answers, axis=0)
        fixed = self._fixed_shape(repeated)
        self._note_compilation("sample", fixed)
        outputs = self._sample(tf.constant(fixed), _knobs(options, greedy))
        history, scores, lengths = (t.numpy()[:len(repeated)] for t in outputs)
        return _best_first(_hypotheses(history, scores, lengths).reshape(count, options.num_answers),
                           options.num_answers)

    def _step(self, tokens, state, step, history, knobs):
        logits, state = self.model.decode_step(tokens, state, step)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        scores = shape_scores(log_probs, history, step, knobs["allow_unk"], knobs["min_length"],
                              knobs["repetition_penalty"], knobs["no_repeat_ngram_size"])
        return log_probs, scores, state

    def _record(self, token, step, history, lengths, done):
        """Write the chosen tokens of live hypotheses into their history."""
        write = tf.logical_and(tf.logical_not(done), tf.not_equal(token, EOS))
        kept = tf.where(write, token, tf.zeros_like(token))
        history = history + tf.one_hot(step, self.max_length, dtype=tf.int32)[None, :] * kept[:, None]
        return history, lengths + tf.cast(write, tf.int32), tf.logical_or(done, tf.equal(token, EOS))

    def _sample_graph(self, encoder_ids, knobs):
        rows = tf.shape(encoder_ids)[0]
        state = self.model.encode(encoder_ids, self.max_length)

        def body(step, tokens, state, history, done, total, scored, lengths):
            log_probs, scores, state = self._step(tokens, state, step, history, knobs)
            def sample():
                restricted = restrict_for_sampling(scores, knobs["temperature"], knobs["top_k"], knobs["top_p"])
                return tf.random.stateless_categorical(restricted, 1, seed=knobs["seed"] + tf.stack([0, step]),
                                                       dtype=tf.int32)[:, 0]

            token = tf.cond(knobs["greedy"], lambda: tf.argmax(scores, axis=-1, output_type=tf.int32), sample)
            live = tf.cast(tf.logical_not(done), tf.float32)
            total += live * tf.gather(log_probs, token, batch_dims=1)
            scored += live
            history, lengths, done = self._record(token, step, history, lengths, done)
            return step + 1, tf.where(done, EOS, token), state, history, done, total, scored, lengths

        loop = (tf.constant(0), tf.fill([rows], GO), state, tf.zeros([rows, self.max_length], tf.int32),
                tf.zeros([rows], tf.bool), tf.zeros([rows]), tf.zeros([rows]), tf.zeros([rows], tf.int32))
        result = tf.while_loop(lambda step, *rest: tf.logical_and(step < knobs["max_length"],
                                                                  tf.logical_not(tf.reduce_all(rest[3]))),
                               body, loop, maximum_iterations=self.max_length)
        _, _, _, history, _, total, scored, lengths = result
        return history, total / tf.maximum(scored, 1.0), lengths

    def _beam_graph(self, encoder_ids, knobs, width: int):
        batch = tf.shape(encoder_ids)[0]
        rows = batch * width
        # Encode each question once; its beam's hypotheses start from copies of that state.
        state = tf.nest.map_structure(lambda t: tf.repeat(t, width, axis=0),
                                      self.model.encode(encoder_ids, self.max_length))
        only_pad = tf.where(tf.one_hot(PAD, self.vocab_size) > 0, 0.0, NEG_INF)[None, :]

        def body(step, tokens, state, history, done, sums, lengths):
            _, scores, state = self._step(tokens, state, step, history, knobs)
            scores = tf.where(done[:, None], only_pad, scores)  # an ended hypothesis carries on unchanged
            totals = tf.reshape(sums[:, None] + scores, [batch, width * self.vocab_size])
            best, index = tf.math.top_k(totals, k=width)
            origin = tf.reshape(tf.range(batch)[:, None] * width + index // self.vocab_size, [-1])
            token = tf.reshape(index % self.vocab_size, [-1])
            static = getattr(self.model, "static_state_keys", ())
            state = {key: value if key in static else tf.nest.map_structure(lambda t: tf.gather(t, origin), value)
                     for key, value in state.items()}
            history, done, lengths = (tf.gather(t, origin) for t in (history, done, lengths))
            history, lengths, done = self._record(token, step, history, lengths, done)
            sums = tf.reshape(best, [-1])
            settled = beam_settled(sums, lengths, done, width, knobs["num_answers"], knobs["max_length"],
                                   knobs["length_penalty"])
            done = tf.logical_or(done, tf.repeat(settled, width))
            return step + 1, tf.where(done, EOS, token), state, history, done, sums, lengths

        first_only = tf.tile(tf.constant([0.0] + [NEG_INF] * (width - 1)), [batch])
        loop = (tf.constant(0), tf.fill([rows], GO), state, tf.zeros([rows, self.max_length], tf.int32),
                tf.zeros([rows], tf.bool), first_only, tf.zeros([rows], tf.int32))
        result = tf.while_loop(lambda step, *rest: tf.logical_and(step < knobs["max_length"],
                                                                  tf.logical_not(tf.reduce_all(rest[3]))),
                               body, loop, maximum_iterations=self.max_length)
        _, _, _, history, done, sums, lengths = result
        steps = tf.cast(lengths, tf.float32) + tf.cast(done, tf.float32)
        return history, sums / length_norm(steps, knobs["length_penalty"]), lengths


_KNOB_SPECS = {
    "greedy": tf.TensorSpec([], tf.bool), "temperature": tf.TensorSpec([], tf.float32),
    "top_k": tf.TensorSpec([], tf.int32), "top_p": tf.TensorSpec([], tf.float32),
    "repetition_penalty": tf.TensorSpec([], tf.float32), "no_repeat_ngram_size": tf.TensorSpec([], tf.int32),
    "min_length": tf.TensorSpec([], tf.int32), "max_length": tf.TensorSpec([], tf.int32),
    "allow_unk": tf.TensorSpec([], tf.bool), "length_penalty": tf.TensorSpec([], tf.float32),
    "num_answers": tf.TensorSpec([], tf.int32), "seed": tf.TensorSpec([2], tf.int32),
}


def length_norm(steps, length_penalty):
    """GNMT's length normaliser ((5 + steps) / 6) ** length_penalty of beam search scores."""
    return tf.pow((5.0 + tf.cast(steps, tf.float32)) / 6.0, length_penalty)


def beam_settled(sums, lengths, done, width: int, num_answers, max_length, length_penalty):
    """Whether each question's answers are settled ([questions] from its ``width`` hypotheses' log-probability
    ``sums``, ``lengths`` and ``done``, all [questions * width]): its ``num_answers``-th best ended hypothesis
    scores at least what any live one could still reach. Log-probabilities only lower a sum, so a live
    hypothesis ends at best with its sum now, divided by the largest length normaliser it can reach;
    decoding on could only push ended hypotheses out of the beam, never find better ones."""
    ending_now = length_norm(lengths + 1, length_penalty)
    ended = tf.reshape(tf.where(done, sums / ending_now, NEG_INF), [-1, width])
    nth_best = tf.gather(tf.sort(ended, direction="DESCENDING", axis=-1), num_answers - 1, axis=1)
    reach = tf.maximum(ending_now, length_norm(max_length, length_penalty))
    live = tf.reshape(tf.where(done, NEG_INF, sums / reach), [-1, width])
    return nth_best >= tf.reduce_max(live, axis=-1)


def compiled_batch_sizes(limit: int) -> list[int]:
    """The batch sizes XLA compiles for up to ``limit``: 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (the powers of two
    and one and a half times them), so that padding a batch wastes at most a third of it."""
    sizes, power = [1], 2
    while sizes[-1] < limit:
        sizes += [power, power * 3 // 2]
        power *= 2
    return sorted({size for size in sizes if size <= limit} | {next(size for size in sizes if size >= limit)})


def padded_batch_size(rows: int) -> int:
    """The smallest compiled batch size that holds ``rows``."""
    return next(size for size in compiled_batch_sizes(max(rows, 1)) if size >= rows)


def _best_first(groups: np.ndarray, keep: int) -> list[list[Hypothesis]]:
    return [sorted(group, key=lambda h: -h.score)[:keep] for group in groups.tolist()]


def _knobs(options: DecodeConfig, greedy: bool) -> dict:
    seed = options.seed if options.seed >= 0 else int(np.random.default_rng().integers(2**31 - 1))
    return {"greedy": tf.constant(greedy), "temperature": tf.constant(options.temperature, tf.float32),
            "top_k": tf.constant(options.top_k, tf.int32), "top_p": tf.constant(options.top_p, tf.float32),
            "repetition_penalty": tf.constant(options.repetition_penalty, tf.float32),
            "no_repeat_ngram_size": tf.constant(options.no_repeat_ngram_size, tf.int32),
            "min_length": tf.constant(options.min_length, tf.int32), "max_length": tf.constant(options.max_length, tf.int32),
            "allow_unk": tf.constant(options.allow_unk), "length_penalty": tf.constant(options.length_penalty, tf.float32),
            "num_answers": tf.constant(options.num_answers, tf.int32), "seed": tf.constant([seed, 0], tf.int32)}


def _hypotheses(history: np.ndarray, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    items = [Hypothesis(row[:length].tolist(), float(score)) for row, score, length in zip(history, scores, lengths)]
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def encode_questions(questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                     max_length: int) -> np.ndarray:
    """Encoder ids [B, Te] of the questions, each keeping its last ``max_length`` tokens, padded with 0."""
    return pad_rows([vocabulary.encode(tokenizer.tokenize(question))[-max_length:] for question in questions])


def pad_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Id sequences as one int32 batch [B, longest], right-padded with <pad> (0)."""
    batch = np.zeros((len(rows), max(1, max((len(row) for row in rows), default=1))), dtype=np.int32)
    for index, row in enumerate(rows):
        batch[index, :len(row)] = row
    return batch


def reply_texts(decoder: Decoder, questions: Sequence[str], tokenizer: Tokenizer, vocabulary: Vocabulary,
                max_question_length: int, options: DecodeConfig) -> list[str]:
    """The best reply to each question, detokenized (the probe questions of training use it)."""
    encoder_ids = encode_questions(questions, tokenizer, vocabulary, max_question_length)
    results = decoder.generate(encoder_ids, options.replace(num_answers=1))
    return [tokenizer.detokenize(vocabulary.decode(best[0].ids)) if best else "" for best in results]
