"""Training the ranker: in-batch negatives in both directions (each context against every answer of its
batch, each answer against every context), answers that are the same text never counted as negatives of
each other; validation 1-in-10 R@1 every epoch; the weights of the best epoch, the index of training
answers and the metrics go into the run bundle, the scalars to ``logs/ranker``. A checkpoint after every
epoch (``ranker_resume/``) lets an interrupted training continue where it stopped."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from deepqa import atomic
from deepqa.config import Config
from deepqa.data.dataset import Dataset
from deepqa.data.samples import Samples
from deepqa.data.sentences import mended_rows, sentence_end_flags
from deepqa.errors import DatasetError
from deepqa.files import LOGS_DIR, RANKER_FILE, RANKER_GRAPH, RANKER_INDEX, RANKER_RESUME_DIR, RANKER_WEIGHTS
from deepqa.inference.decoding import pad_rows
from deepqa.log import get_logger
from deepqa.ranker.batches import epoch_batches, sketch_projection
from deepqa.ranker.index import ResponseIndex, encode_rows
from deepqa.ranker.lexical import inverse_document_frequencies, tfidf_cosines, unknown_share
from deepqa.ranker.model import DualEncoder
from deepqa.data.vocab import UNK
from deepqa.train.checkpoint import ResumeCheckpoint

LOG = get_logger(__name__)
DISTRACTORS = 9
VALIDATION_PAIRS = 5000
USUAL_UNKNOWN_QUANTILE = 0.9


def build_ranker(config: Config, words: Sequence[str]) -> DualEncoder:
    """The dual encoder of ``[ranker]`` over the vocabulary ``words`` (in id order), with its weights created."""
    samples = config.samples
    model = DualEncoder(words, config.ranker, samples.max_question_length, samples.max_answer_length)
    ones = np.ones((1, 1), np.int32)
    model({"context_ids": ones, "response_ids": ones})
    return model


def _rows(samples: Samples, which: str) -> list[np.ndarray]:
    get = samples.question if which == "question" else samples.answer
    return [get(i) for i in range(len(samples))]


def _answer_keys(answers: list[np.ndarray]) -> np.ndarray:
    """One integer per distinct answer text, so that equal answers are not each other's negatives."""
    keys: dict[bytes, int] = {}
    return np.array([keys.setdefault(a.tobytes(), len(keys)) for a in answers], dtype=np.int64)


def contrastive_loss(logits, keys):
    """Mean of the two cross-entropies (contexts → answers, answers → contexts) of the in-batch logits [B, B];
    off-diagonal pairs with the same answer key are masked out. Also the share of contexts whose own answer
    scores best."""
    same = tf.equal(keys[:, None], keys[None, :])
    off_diagonal = tf.logical_not(tf.eye(tf.shape(logits)[0], dtype=tf.bool))
    logits = tf.where(tf.logical_and(same, off_diagonal), -1e9, logits)
    labels = tf.range(tf.shape(logits)[0])
    forward = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    backward = tf.keras.losses.sparse_categorical_crossentropy(labels, tf.transpose(logits), from_logits=True)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), labels), tf.float32))
    return (tf.reduce_mean(forward) + tf.reduce_mean(backward)) / 2, accuracy


def _tfidf_counts(ids, idf):
    """TF-IDF vectors [B, V] of padded ids [B, T], not normalised."""
    counts = tf.math.bincount(ids, minlength=tf.shape(idf)[0], maxlength=tf.shape(idf)[0], axis=-1,
                              dtype=tf.float32)
    return counts * idf[None, :]


def tfidf_rows(ids, idf):
    """Unit TF-IDF vectors [B, V] of padded ids [B, T]; ``idf`` [V] is 0 for padding and special tokens."""
    return tf.math.l2_normalize(_tfidf_counts(ids, idf), axis=1)


def tfidf_cosine_matrix(context_ids, response_ids, idf):
    """TF-IDF cosines [B, B'] of each context row [B, T] with each response row [B', T'] (padded ids), the
    product of :func:`tfidf_rows` without the dense [B, V] x [V, B'] product: each context token's weight
    (its IDF over its row's norm) times the responses' vector entries of that token, summed over the row."""
    responses = tfidf_rows(response_ids, idf)
    norms = tf.maximum(tf.norm(_tfidf_counts(context_ids, idf), axis=1, keepdims=True), 1e-12)
    weights = tf.gather(idf, context_ids) / norms  # [B, T]
    entries = tf.gather(tf.transpose(responses), context_ids)  # [B, T, B']
    return tf.einsum("bt,btc->bc", weights, entries)


def hide_words(ids: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``ids`` with each word replaced by ``<unk>`` with probability ``rate``, so that the towers learn to
    read texts with words they do not know, as texts from other corpora have."""
    if not rate:
        return ids
    return np.where((ids > UNK) & (rng.random(ids.shape) < rate), UNK, ids).astype(ids.dtype)


def usual_unknown_share(contexts: list[np.ndarray]) -> float:
    """The share of unknown words that 9 in 10 of ``contexts`` do not exceed: beyond it a text looks foreign
    to the ranker. Most contexts of a corpus with many rare words have some unknown ones (measured: the mean
    instead gave R@1 0.407 against 0.419 on dgk-conv's test cases, 0.475 against 0.483 on chitchat's, and
    0.322 against 0.320 on Cornell's cases for the chitchat ranker)."""
    return float(np.quantile(unknown_share(pad_rows(contexts)), USUAL_UNKNOWN_QUANTILE)) if contexts else 0.0


def recall_at_1(model: DualEncoder, questions: list[np.ndarray], answers: list[np.ndarray], seed: int,
                batch_size: int = 256, idf: np.ndarray | None = None, lexical_weight: float = 0.0) -> float:
    """1-in-10 R@1: each question's own answer against 9 answers of other pairs drawn with a fixed seed;
    scored as the ranker scores, with ``lexical_weight`` x the TF-IDF cosine (``idf``) when it is set."""
    if len(questions) < DISTRACTORS + 1:
        return float("nan")
    contexts = encode_rows(model.contexts, questions, batch_size)
    responses = encode_rows(model.responses, answers, batch_size)
    rng = np.random.default_rng(seed)
    count = len(questions)
    others = (np.arange(count)[:, None] + rng.integers(1, count, size=(count, DISTRACTORS))) % count
    true = np.sum(contexts * responses, axis=1)
    distractor = np.einsum("bd,bkd->bk", contexts, responses[others])
    if lexical_weight:
        context_rows = pad_rows(questions)
        true = true + lexical_weight * tfidf_cosines(context_rows, pad_rows(answers), idf)
        lexical = tfidf_cosines(np.repeat(context_rows, DISTRACTORS, axis=0),
                                pad_rows([answers[i] for i in others.reshape(-1)]), idf)
        distractor = distractor + lexical_weight * lexical.reshape(count, DISTRACTORS)
    return float(np.mean(true > distractor.max(axis=1)))


@contextmanager
def averaged_weights(model: DualEncoder, optimizer) -> Iterator[None]:
    """Within the block the model holds the moving average of its weights (``[ranker] average_momentum``),
    after it the weights training goes on from; without an average, the weights throughout."""
    if not optimizer.use_ema or not optimizer.built:
        yield
        return
    current = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield
    finally:
        for variable, value in zip(model.trainable_variables, current):
            variable.assign(value)


def train_ranker(config: Config, dataset: Dataset, run_dir: Path) -> dict:
    """Train the ranker of ``[ranker]`` on the dataset's training split into ``run_dir``; returns its metrics."""
    settings = config.ranker
    keras.utils.set_random_seed(settings.seed)
    vocab_size = len(dataset.vocabulary)
    model = build_ranker(config, dataset.vocabulary.id2word)
    train, valid = dataset.samples.of_split("train"), dataset.samples.of_split("valid")
    questions, answers = _rows(train, "question"), _rows(train, "answer")
    optimizer = keras.optimizers.Adam(settings.learning_rate, global_clipnorm=1.0,
                                      use_ema=bool(settings.average_momentum),
                                      ema_momentum=settings.average_momentum or 0.99)
    keys = _answer_keys(answers)
    valid_questions, valid_answers = _rows(valid, "question"), _rows(valid, "answer")
    if len(valid_questions) > VALIDATION_PAIRS:  # enough for a steady figure, and quick to score every epoch
        chosen = np.random.default_rng(settings.seed).choice(len(valid_questions), VALIDATION_PAIRS, replace=False)
        valid_questions, valid_answers = [valid_questions[i] for i in chosen], [valid_answers[i] for i in chosen]
    batch = min(settings.batch_size, len(questions))
    if batch < 2:
        raise DatasetError("the ranker needs at least two training pairs")
    idf = inverse_document_frequencies(questions + answers, vocab_size)
    # The towers learn beside the lexical part (at [ranker] training_lexical_weight), so they learn what it misses.
    lexical_idf = tf.constant(np.where(np.arange(vocab_size) > UNK, idf, 0.0), tf.float32)

    @tf.function(reduce_retracing=True)
    def step(context_ids, response_ids, batch_keys):
        with tf.GradientTape() as tape:
            logits = model.member_logits({"context_ids": context_ids, "response_ids": response_ids}, training=True)
            if settings.lexical_weight and settings.training_lexical_weight:
                lexical = tfidf_cosine_matrix(context_ids, response_ids, lexical_idf)
                logits = logits + settings.training_lexical_weight * lexical / settings.temperature
            # Each member learns on its own, so that their mean is an ensemble rather than one wider model.
            losses, accuracies = zip(*(contrastive_loss(member, batch_keys) for member in tf.unstack(logits)))
            loss, accuracy = tf.reduce_mean(tf.stack(losses)), tf.reduce_mean(tf.stack(accuracies))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss, accuracy

    writers = {name: tf.summary.create_file_writer(str(run_dir / LOGS_DIR / "ranker" / name))
               for name in ("train", "validation")}
    checkpoint = ResumeCheckpoint(run_dir, RANKER_RESUME_DIR)
    progress = _start_or_continue(checkpoint, model, optimizer, settings.model_dump(mode="json"))
    rng = np.random.default_rng(settings.seed)
    if progress["rng"]:
        rng.bit_generator.state = progress["rng"]
    # max_minutes limits this session: the epoch under way when it is reached is cut short, leaving time for a
    # validation as long as the longest so far, so a budget of a few long epochs is used to the full (on
    # dgk-conv, with 2.5-minute epochs, a 4.5-minute limit otherwise let only one run); the figures count every
    # session.
    started, earlier_seconds, longest_validation = time.perf_counter(), progress["seconds"], 0.0
    deadline = started + 60 * settings.max_minutes if settings.max_minutes else float("inf")

    def out_of_time() -> bool:
        return time.perf_counter() + longest_validation >= deadline

    stopped = "completed"
    for epoch in range(progress["epoch"] + 1, settings.epochs + 1):
        if epoch > progress["epoch"] + 1 and out_of_time():
            stopped = "time_limit"
            break
        # After the first epoch the towers know enough to tell which contexts are alike.
        similar = (encode_rows(model.contexts, questions, 1024, sketch_projection(model.width, rng))
                   if settings.hard_negatives and epoch > 1 else None)
        batches = epoch_batches(rng, len(questions), batch, settings.hard_negatives, similar)
        losses, accuracies = [], []
        for chosen in tqdm(batches, desc=f"ranker epoch {epoch}", unit=" batches", disable=None, leave=False):
            if losses and out_of_time():
                stopped = "time_limit"
                break
            contexts, responses = (hide_words(pad_rows([rows[i] for i in chosen]), settings.unknown_word_rate, rng)
                                   for rows in (questions, answers))
            loss, accuracy = step(contexts, responses, tf.constant(keys[chosen]))
            losses.append(float(loss))
            accuracies.append(float(accuracy))
        validation_started = time.perf_counter()
        with averaged_weights(model, optimizer):  # validated, and kept when best
            recall = recall_at_1(model, valid_questions, valid_answers, settings.seed, idf=idf,
                                 lexical_weight=settings.lexical_weight)
            improved = not np.isfinite(recall) or recall > progress["best"]
            if improved:
                progress["best"] = recall if np.isfinite(recall) else progress["best"]
                atomic.write_weights(model, run_dir / RANKER_WEIGHTS)
        longest_validation = max(longest_validation, time.perf_counter() - validation_started)
        entry = {"epoch": epoch, "batches": len(losses), "loss": float(np.mean(losses)),
                 "in_batch_accuracy": float(np.mean(accuracies)), "val_recall_at_1": recall}
        with writers["train"].as_default():
            tf.summary.scalar("ranker/loss", entry["loss"], step=epoch)
            tf.summary.scalar("ranker/in_batch_accuracy", entry["in_batch_accuracy"], step=epoch)
        with writers["validation"].as_default():
            tf.summary.scalar("ranker/recall_at_1", recall, step=epoch)
        progress.update(epoch=epoch, history=progress["history"] + [entry], rng=rng.bit_generator.state,
                        seconds=earlier_seconds + time.perf_counter() - started)
        checkpoint.save(model, optimizer, progress)
        LOG.info(f"ranker epoch {epoch}: loss {entry['loss']:.4f} in-batch accuracy {entry['in_batch_accuracy']:.3f} "
                 f"| val 1-in-10 R@1 {recall:.3f}{' | best so far' if improved else ''}")
        if stopped == "time_limit":
            break
    for writer in writers.values():
        writer.flush()
    model.load_weights(run_dir / RANKER_WEIGHTS)
    model.freeze()
    # The index holds replies: an answer cut by the length limit goes back to its last whole sentence, and shows
    # the words behind its <unk> ids where the dataset kept them.
    mended = mended_rows(answers, config.samples.max_answer_length, sentence_end_flags(dataset.vocabulary.id2word))
    words = None if train.answer_unknown is None else [  # a mended answer keeps the words of its first <unk>
        train.answer_words(position)[:np.count_nonzero(row == UNK)] for position, row in mended]
    index = ResponseIndex.build([row for _, row in mended], lambda ids: model.responses(ids), idf,
                                limit=settings.max_index, unknown_share=usual_unknown_share(questions),
                                answer_words=words)
    index.save(run_dir / RANKER_INDEX)
    (run_dir / RANKER_GRAPH).unlink(missing_ok=True)  # a graph of an earlier index is stale
    index.search_approximately_above(settings.approximate_above, run_dir / RANKER_GRAPH)
    metrics = {"settings": settings.model_dump(), "stopped": stopped, "best_val_recall_at_1": progress["best"],
               "index_size": len(index), "seconds": round(earlier_seconds + time.perf_counter() - started, 1),
               "history": progress["history"]}
    atomic.write_json(run_dir / RANKER_FILE, metrics)
    checkpoint.remove()
    return metrics


def _start_or_continue(checkpoint: ResumeCheckpoint, model: DualEncoder, optimizer, settings: dict) -> dict:
    """The progress of an interrupted training of the same ``[ranker]`` settings, its model and optimizer
    restored; else a fresh start (a checkpoint of other settings is dropped)."""
    saved = checkpoint.progress()
    if saved is not None and saved.get("settings") == settings:
        optimizer.build(model.trainable_variables)
        progress = checkpoint.restore(model, optimizer)
        LOG.info(f"continuing the ranker's training after epoch {progress['epoch']}")
        return progress
    if saved is not None:
        LOG.info("the interrupted ranker training had other [ranker] settings: training the ranker afresh")
        checkpoint.remove()
    return {"settings": settings, "epoch": 0, "best": -1.0, "history": [], "rng": None, "seconds": 0.0}
