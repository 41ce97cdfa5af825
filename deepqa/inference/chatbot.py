"""``Chatbot.load(run_dir)``: the one seam the chat console, the evaluator and the server share."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from deepqa.config import Config, DecodeConfig, load_config, load_deployment, with_values
from deepqa.settings import RUN
from deepqa.inference.decoding import Decoder, pad_rows
from deepqa.inference.likelihood import LikelihoodScorer
from deepqa.errors import ConfigError, DatasetError
from deepqa.ranker.lexical import lexical_ids
from deepqa.ranker.retrieval import Ranker
from deepqa.models import Seq2Seq, build_model, rebuild_model
from deepqa.files import BEST_WEIGHTS, CONFIG_FILE, LAST_WEIGHTS, METRICS_FILE, MODEL_FILE, VOCAB_FILE, resolve_run
from deepqa.data.sentences import mended_rows, sentence_end_flags
from deepqa.data.text import Tokenizer, build_tokenizer
from deepqa.data.vocab import EOS, UNK, Vocabulary


@dataclass
class Answer:
    """One reply, its score (generated: mean log-probability per token, length-penalised for beam search;
    retrieved: the ranker's cosine) and where it came from (``generated`` or ``retrieved``)."""

    text: str
    score: float
    source: str = "generated"


@dataclass
class Reply:
    """The best answer, and all requested answers best first."""

    text: str
    answers: list[Answer]


class Chatbot:
    """A trained run, ready to answer: model, vocabulary, tokenizer and default decoding settings."""

    def __init__(self, run_dir: Path, config: Config, vocabulary: Vocabulary, tokenizer: Tokenizer, model: Seq2Seq,
                 metrics: dict):
        self.run_dir, self.config, self.vocabulary, self.tokenizer = run_dir, config, vocabulary, tokenizer
        self.model, self.metrics = model, metrics
        self.ranker = Ranker.load(run_dir, config, vocabulary.id2word)
        # Retrieval runs beside the beam search of the same questions: both spend their time in TensorFlow
        # and numpy, which let go of the interpreter, so a hybrid reply waits for the longer of the two.
        self._retrieval_worker = (ThreadPoolExecutor(1, thread_name_prefix="deepqa-retrieval")
                                  if self.ranker is not None else None)
        self.decoder_length = config.samples.decoder_length
        self.decoder = Decoder(model, self.decoder_length, xla=config.decode.xla)
        self.likelihood = LikelihoodScorer(model)
        self.sentence_ends = sentence_end_flags(vocabulary.id2word)

    @classmethod
    def load(cls, run_dir: str | Path, weights: str = "best", deployment: str | Path | None = None,
             overrides: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> "Chatbot":
        """Load a run directory (``save/latest`` works); ``weights`` is ``best`` or ``last``. Run-time settings
        come from the deployment (see :func:`deepqa.config.load_deployment`): the config file ``deployment``
        (default: ./config.ini, else the project's), ``environ`` and ``overrides``."""
        run = resolve_run(run_dir)
        config = load_deployment(load_config(run / CONFIG_FILE), deployment, overrides, environ)
        vocabulary = Vocabulary.load(run / VOCAB_FILE)
        tokenizer = build_tokenizer(config.tokenizer, run)
        names = [BEST_WEIGHTS, LAST_WEIGHTS] if weights == "best" else [LAST_WEIGHTS]
        path = next((run / name for name in names if (run / name).is_file()), None)
        if path is None:
            raise DatasetError(f"run {str(run)!r} has no weights yet: train it first (or wait for its first epoch)")
        saved = run / MODEL_FILE  # older runs have none: their model is built from the config
        model = (rebuild_model(json.loads(saved.read_text(encoding="utf-8"))) if saved.is_file()
                 else build_model(config, len(vocabulary)))
        try:
            model.load_weights(path)
        except ValueError as exc:
            raise DatasetError(f"the weights in {path} do not fit the model of {run / CONFIG_FILE}: {exc}") from None
        metrics_path = run / METRICS_FILE
        metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
        return cls(run, config, vocabulary, tokenizer, model, metrics)

    def configure(self, overrides: Sequence[str], deployment: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> None:
        """Choose the run-time settings again, as :meth:`load` does; generation is rebuilt when ``decode.xla``
        changes."""
        updated = load_deployment(load_config(self.run_dir / CONFIG_FILE), deployment, overrides, environ)
        for name in updated.section_names(RUN):
            setattr(self.config, name, updated.section(name))
        if updated.decode.xla != self.decoder.xla:
            self.decoder = Decoder(self.model, self.decoder_length, xla=updated.decode.xla)

    # ---- encoding ----------------------------------------------------------------------------------
    def encode_turns(self, question: str, context: Sequence[str] | None = None) -> np.ndarray:
        """Encoder ids of the question after the last ``context_turns`` turns of context, joined by <eos>,
        keeping the end when it is too long: exactly how the training samples were made."""
        return self.encode_turns_lexically(question, context)[0]

    def encode_turns_lexically(self, question: str, context: Sequence[str] | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode_turns`' ids, and for the ranker's lexical part the same turns' ids with unknown words
        told apart (see :func:`deepqa.ranker.lexical.lexical_ids`), not cut to the question length: the lexical
        part matches every word of those turns."""
        turns = list(context or [])[-self.config.samples.context_turns:] if self.config.samples.context_turns else []
        ids: list[int] = []
        lexical: list[int] = []
        for turn in [*turns, question]:
            tokens = self.tokenizer.tokenize(turn)
            turn_ids = self.vocabulary.encode(tokens)
            ids += turn_ids.tolist() + [EOS]
            lexical += lexical_ids(tokens, turn_ids, len(self.vocabulary)).tolist() + [EOS]
        keep = slice(-self.config.samples.max_question_length - 1, -1)  # the end, without the last <eos>
        return np.asarray(ids[keep], dtype=np.int32), np.asarray(lexical[:-1], dtype=np.int64)

    def encode_answer(self, answer: str) -> np.ndarray:
        """Decoder ids of an answer (without <go>/<eos>), cut to the longest answer the model produces."""
        return self.vocabulary.encode(self.tokenizer.tokenize(answer))[:self.config.samples.max_answer_length]

    def options(self, overrides: Mapping[str, Any] | None = None) -> DecodeConfig:
        """The run's ``[decode]`` settings with ``overrides`` checked and applied."""
        return self.check_options(with_values("decode", self.config.decode, overrides or {}))

    def check_options(self, options: DecodeConfig) -> DecodeConfig:
        """``options`` with mode ``auto`` resolved (``hybrid`` with a ranker, else ``generate``), refused with a
        :class:`ConfigError` when they need what this run lacks."""
        if options.mode == "auto":
            options = options.replace(mode="hybrid" if self.ranker is not None else "generate")
        if options.mode != "generate" and self.ranker is None:
            raise ConfigError(f"mode {options.mode!r} needs a ranker, and run {self.run_dir.name} has none: train one "
                              f"with `deepqa train --only ranker --resume {self.run_dir}`")
        return options

    # ---- answering ---------------------------------------------------------------------------------
    def reply_batch(self, questions: Sequence[tuple[str, Sequence[str] | None]],
                    options: DecodeConfig | None = None) -> list[Reply]:
        """Replies to several (question, context) pairs, decoded together."""
        encoded = [self.encode_turns_lexically(question, context) for question, context in questions]
        return self.reply_encoded(pad_rows([ids for ids, _ in encoded]), questions, options,
                                  pad_rows([lexical for _, lexical in encoded]))

    def reply_encoded(self, batch: np.ndarray, questions: Sequence[tuple[str, Sequence[str] | None]],
                      options: DecodeConfig | None = None, lexical: np.ndarray | None = None) -> list[Reply]:
        """Replies to encoded contexts [B, T]; ``questions`` are their (question, context) texts, which no reply
        may repeat; ``lexical``: the contexts with unknown words told apart, where the texts were encoded."""
        options = self.check_options(options or self.config.decode)
        if options.mode == "rank":
            found = self.ranker.retrieve(batch, options.num_answers + 8, lexical_contexts=lexical)
            return [self._best(self._whole([(ids, score, "retrieved", words) for ids, score, words in answers]),
                               question, context, options.num_answers)
                    for answers, (question, context) in zip(found, questions)]
        if options.mode == "hybrid":
            return self._hybrid(batch, questions, options, lexical)
        results = self.decoder.generate(batch, options)
        replies = []
        for hypotheses in results:
            answers = [Answer(self.tokenizer.detokenize(self.vocabulary.decode(h.ids)), round(h.score, 6))
                       for h in hypotheses]
            replies.append(Reply(answers[0].text if answers else "", answers))
        return replies

    def _best(self, scored, question: str, context: Sequence[str] | None, count: int) -> Reply:
        """The ``count`` best of (ids, score, source, words behind its ``<unk>`` ids) candidates, each text
        once, none repeating the question or a turn of the conversation (the bot's own earlier replies
        included), none with an ``<unk>`` whose word is unknown (unless ``allow_unk``)."""
        seen = {self.tokenizer.normalize(turn) for turn in [question, *(context or [])]}
        answers = []
        for ids, score, source, words in sorted(scored, key=lambda item: -item[1]):
            if len(answers) == count:
                break
            if not self.config.decode.allow_unk and np.count_nonzero(ids == UNK) > len(words):
                continue
            text = self.tokenizer.detokenize(self.vocabulary.decode(ids, unknown_words=words))
            key = self.tokenizer.normalize(text)
            if text and key not in seen:
                seen.add(key)
                answers.append(Answer(text, round(float(score), 6), source))
        return Reply(answers[0].text if answers else "", answers)

    def _whole(self, candidates: list[tuple]) -> list[tuple]:
        """(ids, ...) candidates, each cut back to whole sentences where the length limit cut it, as
        :func:`deepqa.data.sentences.mended_rows` does."""
        mended = mended_rows([ids for ids, *_ in candidates], self.config.samples.max_answer_length, self.sentence_ends)
        return [(whole, *candidates[position][1:]) for position, whole in mended]

    def _mended_pool(self, pool: list[tuple[np.ndarray, float | None, str, list[str]]]) -> list[tuple]:
        """(ids, known score or None, source, words) candidates cut back to whole sentences (:meth:`_whole`); a
        known score stays only with a candidate that mending left as it was."""
        mended = self._whole([(ids, ids, score, source, words) for ids, score, source, words in pool])
        return [(whole, score if len(whole) == len(ids) else None, source, words)
                for whole, ids, score, source, words in mended]

    def _retrieved(self, batch: np.ndarray, count: int, lexical: np.ndarray | None
                   ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, float, list[str]]]]]:
        """The context towers' vectors of ``batch`` and each row's ``count`` retrieved (ids, score, words)
        answers."""
        vectors = self.ranker.context_vectors(batch)
        found = self.ranker.retrieve(batch, count, vectors, lexical) if count else [[] for _ in batch]
        return vectors, found

    def _hybrid(self, batch: np.ndarray, questions, options: DecodeConfig, lexical: np.ndarray | None) -> list[Reply]:
        """The ranker's choice among the beam's n-best, sampled replies and retrieved answers. The context
        towers run once for retrieval and scoring, beside the generator's decoding, and a retrieved answer
        keeps the score it was found by (the one :meth:`deepqa.ranker.retrieval.Ranker.scores` gives),
        unless mending it changed it."""
        retrieval = self._retrieval_worker.submit(self._retrieved, batch, options.hybrid_retrieved, lexical)
        pools: list[list[tuple[np.ndarray, float | None, str, list[str]]]] = [[] for _ in questions]
        beam = self.decoder.generate(batch, options.replace(mode="generate", strategy="beam",
                                                            num_answers=options.beam_width))
        groups = [beam]
        if options.hybrid_samples:
            groups.append(self.decoder.generate(batch, options.replace(
                mode="generate", strategy="sample", num_answers=options.hybrid_samples)))
        for group in groups:
            for pool, hypotheses in zip(pools, group):
                pool += [(np.asarray(h.ids[:self.config.samples.max_answer_length], dtype=np.int32), None,
                          "generated", []) for h in hypotheses if h.ids]
        vectors, retrieved = retrieval.result()
        for pool, found in zip(pools, retrieved):
            pool += [(ids, score, "retrieved", words) for ids, score, words in found]
        pools = [self._mended_pool(pool) for pool in pools]
        rows = np.array([index for index, pool in enumerate(pools) for _ in pool], dtype=np.int64)
        candidates = [ids for pool in pools for ids, *_ in pool]
        known = np.array([np.nan if score is None else score for pool in pools for _, score, *_ in pool])
        lexical_rows = None if lexical is None else (lexical[rows], pad_rows(
            [self.ranker.lexical_answer(ids, words) for pool in pools for ids, _, _, words in pool]))
        scores = self.hybrid_scores(batch[rows], candidates, options.hybrid_generator_weight, lexical_rows,
                                    vectors=vectors[rows], known=known)
        replies, start = [], 0
        for pool, (question, context) in zip(pools, questions):
            scored = [(ids, score, source, words)
                      for (ids, _, source, words), score in zip(pool, scores[start:start + len(pool)])]
            start += len(pool)
            replies.append(self._best(scored, question, context, options.num_answers))
        return replies

    def hybrid_scores(self, contexts: np.ndarray, candidates: list[np.ndarray], generator_weight: float,
                      lexical_rows: tuple[np.ndarray, np.ndarray] | None = None, vectors: np.ndarray | None = None,
                      known: np.ndarray | None = None) -> np.ndarray:
        """The hybrid mode's score of each context row [B, T] with its candidate: the ranker's score, plus
        ``generator_weight`` x the generator's pointwise mutual information of candidate and context (mean log
        p(candidate | context) - mean log p(candidate | nothing)), which favours specific over generic replies.
        ``lexical_rows`` and ``vectors``: as for :meth:`deepqa.ranker.retrieval.Ranker.scores`; ``known``: the
        ranker's scores already at hand, NaN where not."""
        if not candidates:
            return np.zeros(0)
        scores = np.full(len(candidates), np.nan) if known is None else np.array(known, dtype=np.float64)
        missing = np.flatnonzero(np.isnan(scores))
        if len(missing):
            scores[missing] = self.ranker.scores(
                contexts[missing], pad_rows([candidates[i] for i in missing]),
                lexical_rows=None if lexical_rows is None else tuple(rows[missing] for rows in lexical_rows),
                vectors=None if vectors is None else vectors[missing])
        if generator_weight:
            questions = [row[row > 0] for row in contexts]
            scores = scores + generator_weight * self.likelihood.mmi_scores(questions, candidates, 1.0)
        return scores

    def warm_up(self, max_batch: int, beam_widths: Sequence[int] = (), max_answers: int = 1) -> None:
        """Build every graph a server's requests can reach, so that none waits for a compilation: beam search
        of each of ``beam_widths`` (and ``[decode] beam_width``) for every batch size up to ``max_batch``, the
        sampling graph (greedy and sampling, hybrid's samples) for up to ``max_batch`` x ``max_answers`` rows,
        and the ranker's towers."""
        decode = self.config.decode.replace(mode="generate", num_answers=1)
        question = self.encode_turns("hello")
        sizes = lambda rows: sorted({self.decoder.batch_size_for(n) for n in range(1, rows + 1)})  # noqa: E731
        for size in sizes(max_batch):
            for width in sorted(set(beam_widths) | {decode.beam_width}):
                self.decoder.generate(pad_rows([question] * size), decode.replace(strategy="beam", beam_width=width))
        for size in sizes(max_batch * max_answers):
            self.decoder.generate(pad_rows([question] * size), decode.replace(strategy="greedy"))
        if self.ranker is not None:
            self.reply_batch([("hello", None)], self.config.decode.replace(mode="hybrid", num_answers=1))

    def reply(self, question: str, context: Sequence[str] | None = None, **decoding) -> Reply:
        """The reply to ``question`` (after ``context``, the previous turns); ``decoding`` overrides ``[decode]``."""
        return self.reply_batch([(question, context)], self.options(decoding))[0]

