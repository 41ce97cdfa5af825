"""The training loop: one custom step that serves one device, every GPU of a machine, or several machines.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy``, so deepqa runs its own step with
``strategy.run`` over ``strategy.experimental_distribute_dataset``; with the default strategy the same
code trains on one CPU or GPU. Each replica's gradient is weighted by its share of the batch's target
tokens, so the summed update is the exact token-mean gradient whatever the number of replicas.

After every epoch: validation (full softmax), TensorBoard scalars and probe replies, ``last`` and
``best`` weights, ``metrics.json``, and the ``resume/`` state, so that ``--resume`` after a crash or
``kill -9`` loses at most one epoch.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from deepqa import atomic
from deepqa.log import get_logger
from deepqa.config import Config
from deepqa.data.dataset import Dataset
from deepqa.inference.decoding import Decoder, reply_texts
from deepqa.errors import ConfigError, TrainingError
from deepqa.train.input_pipeline import make_dataset
from deepqa.train.losses import correct_tokens, cross_entropy_sum, sample_candidates, sampled_softmax_sum, token_mask
from deepqa.models import build_model
from deepqa.models.embeddings import load_pretrained_embeddings
from deepqa.train.checkpoint import ResumeCheckpoint
from deepqa.files import BEST_WEIGHTS, LAST_WEIGHTS, LOGS_DIR, METRICS_FILE, MODEL_FILE, RESUME_DIR
from deepqa.train.schedules import WarmupInverseSqrt, WarmupLinearDecay, expected_epochs
from deepqa.data.splits import SPLITS
from deepqa.data.vocab import EOS

SUM = tf.distribute.ReduceOp.SUM
LOG = get_logger(__name__)


def has_gpu() -> bool:
    """True when TensorFlow sees a GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def make_strategy(distribution: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for ``[train] distribution``."""
    if distribution == "mirrored":
        return tf.distribute.MirroredStrategy()
    if distribution == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("[train] distribution = multi_worker needs the TF_CONFIG environment variable "
                              "(see the README: several machines)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """Whether this process writes the run directory: always, except a non-chief worker of ``TF_CONFIG``."""
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError:
        raise ConfigError("the TF_CONFIG environment variable is not valid JSON") from None
    task, cluster = tf_config.get("task") or {}, tf_config.get("cluster") or {}
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in cluster


def choose(setting: str) -> bool:
    """``true``/``false`` as given; ``auto`` means: when a GPU is present."""
    return has_gpu() if setting == "auto" else setting == "true"


def dtype_policy(setting: str) -> str:
    """The Keras dtype policy of ``[train] mixed_precision``: float16 computations (``true``, or ``auto`` on a
    GPU), bfloat16 computations (``bfloat16``), else float32; the weights stay float32 in every case."""
    if setting == "bfloat16":
        return "mixed_bfloat16"
    return "mixed_float16" if choose(setting) else "float32"


def make_schedule(train) -> keras.optimizers.schedules.LearningRateSchedule | float:
    """The configured learning-rate schedule (``plateau`` and ``constant`` start from a fixed rate)."""
    if train.schedule == "warmup_decay":
        return WarmupInverseSqrt(train.learning_rate, train.warmup_steps)
    if train.schedule == "warmup_linear":  # its end is set when the steps of an epoch are known
        return WarmupLinearDecay(train.learning_rate, train.warmup_steps, train.epochs * max(train.steps_per_epoch, 1))
    return train.learning_rate


def make_optimizer(config: Config, rate: keras.optimizers.schedules.LearningRateSchedule | float
                   ) -> keras.optimizers.Optimizer:
    """Adam with global-norm clipping and the learning rate or schedule ``rate``."""
    train = config.train
    optimizer = keras.optimizers.Adam(rate, global_clipnorm=train.clip_norm or None)
    if keras.config.dtype_policy().name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def start_from_unigram(model, samples, splits: tuple[str, ...]) -> None:
    """Set the output bias to the log-frequency of each target token in ``splits`` (answers and their
    <eos>), so that training starts from the unigram distribution rather than a uniform one. This is
    faster, and with a sampled softmax it keeps rare words, seldom drawn as negatives, from keeping
    logits as high as common ones."""
    bias = model.output_bias()
    if bias is None:
        return
    vocab_size = int(bias.shape[0])
    chosen = np.isin(samples.split, [SPLITS.index(name) for name in splits])
    targets = samples.decoder_values[np.repeat(chosen, samples.answer_lengths)]
    counts = np.bincount(targets, minlength=vocab_size)[:vocab_size].astype(np.float64)
    counts[EOS] += np.count_nonzero(chosen)
    bias.assign(np.log((counts + 1.0) / (counts.sum() + vocab_size)).astype(np.float32))


@dataclass
class Progress:
    """What survives a restart: finished epochs, the best validation loss and the history."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: list = field(default_factory=list)


class Trainer:
    """Trains one model on one dataset into one run directory."""

    def __init__(self, config: Config, dataset: Dataset, run_dir: Path, resume: bool = False,
                 train_splits: tuple[str, ...] = ("train",)):
        self.config, self.dataset, self.run_dir = config, dataset, Path(run_dir)
        self.train_splits = train_splits
        train = config.train
        self.strategy = make_strategy(train.distribution)  # first: collectives must be set up before other ops
        keras.utils.set_random_seed(train.seed)
        keras.config.set_dtype_policy(dtype_policy(train.mixed_precision))
        self.xla = choose(train.xla)
        self.chief = is_chief()
        self.multi_worker = train.distribution == "multi_worker"
        self.vocab_size = len(dataset.vocabulary)
        with self.strategy.scope():
            self.model = build_model(config, self.vocab_size)
            self.schedule = make_schedule(train)
            self.optimizer = make_optimizer(config, self.schedule)
            self.optimizer.build(self.model.trainable_variables)
        self.progress = Progress()
        self._probe_decoder: Decoder | None = None
        if self.chief:
            atomic.write_json(self.run_dir / MODEL_FILE, self.model.get_config())
        if resume:
            self._restore()
        else:
            start_from_unigram(self.model, dataset.samples, self.train_splits)
            if config.model.pretrained_embeddings:
                found = load_pretrained_embeddings(config.model.pretrained_embeddings, dataset.vocabulary,
                                                   self.model.embedding_tables())
                LOG.info(f"pretrained embeddings: {found} of {self.vocab_size} words found")
        self._gradients = tf.function(self._replica_gradients, jit_compile=self.xla, reduce_retracing=True)
        self._train_step = tf.function(self._distributed_train_step, reduce_retracing=True)
        self._eval_step = tf.function(self._distributed_eval_step, reduce_retracing=True)
        logs = self.run_dir / LOGS_DIR
        self.train_writer = tf.summary.create_file_writer(str(logs / "train"))
        self.valid_writer = tf.summary.create_file_writer(str(logs / "validation"))

    # ---- data ---------------------------------------------------------------------------------------
    def _datasets(self):
        train, samples = self.config.train, self.config.samples
        common = dict(buckets=train.length_buckets, fixed_shapes=self.xla,
                      max_question_length=samples.max_question_length, decoder_length=samples.decoder_length)
        global_batch = train.batch_size * self.strategy.num_replicas_in_sync
        samples = self.dataset.samples
        train_samples = samples.select(np.flatnonzero(np.isin(samples.split, [SPLITS.index(s) for s in self.train_splits])))
        valid_samples = self.dataset.samples.of_split("valid")
        if len(valid_samples) == 0:
            raise TrainingError("the dataset has no validation samples; prepare it with samples.valid_fraction > 0")
        # Workers must run the same number of steps, or one waits forever in a collective: with several
        # workers, both splits repeat and every epoch counts its steps.
        train_steps = train.steps_per_epoch or (math.ceil(len(train_samples) / global_batch) if self.multi_worker
                                                else None)
        self.train_steps = train_steps
        self.epoch_steps = train_steps or math.ceil(len(train_samples) / global_batch)  # about, with buckets
        self.valid_steps = math.ceil(len(valid_samples) / global_batch) if self.multi_worker else None
        train_set = make_dataset(train_samples, global_batch, shuffle=True, seed=train.seed,
                                 repeat=bool(train_steps), drop_remainder=self.multi_worker, **common)
        valid_set = make_dataset(valid_samples, global_batch, repeat=self.multi_worker,
                                 drop_remainder=self.multi_worker, **common)
        return (self.strategy.experimental_distribute_dataset(train_set),
                self.strategy.experimental_distribute_dataset(valid_set))

    # ---- steps --------------------------------------------------------------------------------------
    def _loss_sum(self, inputs, targets, training: bool, smoothing: float = 0.0, candidates=None):
        """(summed loss, correctly predicted tokens) of one batch; a sampled softmax skips the full logits."""
        if candidates is not None:
            features = self.model.features(inputs, training=True)
            weights, biases = self.model.output_weights()
            return sampled_softmax_sum(features, targets, weights, biases, candidates), tf.constant(-1.0)
        logits = self.model(inputs, training=training)
        return cross_entropy_sum(logits, targets, smoothing), correct_tokens(logits, targets)

    def _replica_gradients(self, inputs, targets, candidates):
        tokens = tf.reduce_sum(token_mask(targets))
        with tf.GradientTape() as tape:
            loss_sum, correct = self._loss_sum(inputs, targets, True, self.config.train.label_smoothing, candidates)
            scaled = self.optimizer.scale_loss(loss_sum / tf.maximum(tokens, 1.0))
        gradients = tape.gradient(scaled, self.model.trainable_variables)
        return gradients, loss_sum, correct, tokens

    def _replica_train_step(self, inputs, targets):
        candidates = (sample_candidates(targets, self.config.train.sampled_softmax, self.vocab_size)
                      if self.config.train.sampled_softmax else None)
        gradients, loss_sum, correct, tokens = self._gradients(inputs, targets, candidates)
        total_tokens = tf.distribute.get_replica_context().all_reduce(SUM, tokens)
        share = tokens / tf.maximum(total_tokens, 1.0)
        gradients = [_scale(g, share) for g in gradients]
        self.optimizer.apply(gradients, self.model.trainable_variables)
        return loss_sum, correct, tokens

    def _distributed_train_step(self, inputs, targets):
        results = self.strategy.run(self._replica_train_step, args=(inputs, targets))
        return [self.strategy.reduce(SUM, value, axis=None) for value in results]

    def _replica_eval_step(self, inputs, targets):
        loss_sum, correct = self._loss_sum(inputs, targets, False)
        return loss_sum, correct, tf.reduce_sum(token_mask(targets))

    def _distributed_eval_step(self, inputs, targets):
        results = self.strategy.run(self._replica_eval_step, args=(inputs, targets))
        return [self.strategy.reduce(SUM, value, axis=None) for value in results]

    # ---- epochs -------------------------------------------------------------------------------------
    def _train_epoch(self, epoch: int, batches, steps: int | None) -> dict:
        loss_total = correct_total = token_total = 0.0
        started = time.perf_counter()
        bar = tqdm(total=steps, desc=f"epoch {epoch}", unit=" batches", disable=None, leave=False)
        for step, (inputs, targets) in enumerate(batches, start=1):
            loss_sum, correct, tokens = (float(v) for v in self._train_step(inputs, targets))
            if step == 1 and epoch == self.progress.epoch + 1 and self.chief:
                with self.train_writer.as_default():  # the model graph, for TensorBoard's Graphs tab
                    tf.summary.graph(self._train_step.get_concrete_function(inputs, targets).graph)
            if not math.isfinite(loss_sum):
                bar.close()
                raise TrainingError(f"the loss became {loss_sum} at epoch {epoch}, batch {step}; training stopped. "
                                    f"The last good state (epoch {self.progress.epoch}) is kept in {self.run_dir}; "
                                    "lower [train] learning_rate and continue with --resume")
            loss_total, correct_total, token_total = loss_total + loss_sum, correct_total + correct, token_total + tokens
            bar.update()
            bar.set_postfix(loss=f"{loss_total / max(token_total, 1):.3f}", refresh=False)
            if steps and step >= steps:
                break
        bar.close()
        seconds = time.perf_counter() - started
        loss = loss_total / max(token_total, 1)
        return {"loss": loss, "perplexity": _perplexity(loss),
                "token_accuracy": correct_total / token_total if correct_total >= 0 and token_total else None,
                "seconds": round(seconds, 3), "tokens_per_second": round(token_total / seconds, 1)}

    def _validate(self, batches) -> dict:
        loss_total = correct_total = token_total = 0.0
        for step, (inputs, targets) in enumerate(batches, start=1):
            loss_sum, correct, tokens = (float(v) for v in self._eval_step(inputs, targets))
            loss_total, correct_total, token_total = loss_total + loss_sum, correct_total + correct, token_total + tokens
            if self.valid_steps and step >= self.valid_steps:
                break
        loss = loss_total / max(token_total, 1)
        return {"loss": loss, "perplexity": _perplexity(loss), "token_accuracy": correct_total / max(token_total, 1)}

    def probe_replies(self) -> list[tuple[str, str]]:
        """The model's replies to ``[train] probe_questions``, decoded as ``[decode]`` says."""
        questions = self.config.train.probe_questions
        if not questions:
            return []
        samples = self.config.samples
        if self._probe_decoder is None:
            self._probe_decoder = Decoder(self.model, samples.decoder_length)
        replies = reply_texts(self._probe_decoder, questions, self.dataset.tokenizer, self.dataset.vocabulary,
                              samples.max_question_length, self.config.decode)
        return list(zip(questions, replies))

    def _log(self, epoch: int, train: dict, valid: dict, probes: list[tuple[str, str]]) -> None:
        learning_rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        with self.train_writer.as_default(step=epoch):
            for name in ("loss", "perplexity", "token_accuracy"):
                if train[name] is not None:
                    tf.summary.scalar(name, train[name])
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("tokens_per_second", train["tokens_per_second"])
            if probes:
                table = "| question | reply |\n|---|---|\n" + "\n".join(f"| {q} | {r} |" for q, r in probes)
                tf.summary.text("probe_replies", table)
        with self.valid_writer.as_default(step=epoch):
            for name in ("loss", "perplexity", "token_accuracy"):
                tf.summary.scalar(name, valid[name])
        self.train_writer.flush()
        self.valid_writer.flush()
        train["learning_rate"] = learning_rate

    def fit(self) -> dict:
        """Train until ``[train] epochs``, early stopping or an error; returns the metrics."""
        train_config = self.config.train
        train_batches, valid_batches = self._datasets()
        train_iterator = iter(train_batches) if self.train_steps else None
        valid_iterator = iter(valid_batches) if self.valid_steps else None
        stopped = "completed"
        started, longest_epoch = time.perf_counter(), 0.0
        first_epoch, first_step = self.progress.epoch, self._steps_taken()
        self._plan_schedule(first_epoch, self.epoch_steps, 0.0, 0.0, 0.0)
        for epoch in range(self.progress.epoch + 1, train_config.epochs + 1):
            elapsed = time.perf_counter() - started
            if train_config.max_minutes and elapsed + longest_epoch > 60 * train_config.max_minutes:
                stopped = "time_limit"
                break
            batches = train_iterator if train_iterator is not None else train_batches
            train = self._train_epoch(epoch, batches, self.train_steps)
            valid = self._validate(valid_iterator if valid_iterator is not None else valid_batches)
            probes = self.probe_replies() if self.chief else []
            self._log(epoch, train, valid, probes)
            improved = valid["loss"] < self.progress.best_loss
            self._end_epoch(epoch, train, valid, probes, improved)
            _print_epoch(epoch, train, valid, probes, improved)
            longest_epoch = max(longest_epoch, time.perf_counter() - started - elapsed)
            self._plan_schedule(epoch, (self._steps_taken() - first_step) / (epoch - first_epoch),
                                time.perf_counter() - started, (time.perf_counter() - started) / (epoch - first_epoch),
                                longest_epoch)
            if (train_config.early_stopping_patience
                    and self.progress.epochs_without_improvement >= train_config.early_stopping_patience):
                stopped = "early_stopping"
                break
            if train_config.schedule == "plateau" and self.progress.epochs_without_improvement and (
                    self.progress.epochs_without_improvement % train_config.plateau_patience == 0):
                self.optimizer.learning_rate = float(self.optimizer.learning_rate) * train_config.plateau_factor
        return self._write_metrics(stopped)

    def _steps_taken(self) -> int:
        return int(keras.ops.convert_to_numpy(self.optimizer.iterations))

    def _plan_schedule(self, done: int, epoch_steps: float, elapsed: float, mean_epoch: float,
                       longest_epoch: float) -> None:
        """End a linear decay at the step training is now expected to stop at: after ``[train] epochs``, or
        earlier where the time limit will stop it (``done`` epochs of ``epoch_steps`` steps so far, this
        session's epochs taking ``mean_epoch`` seconds and at most ``longest_epoch``)."""
        if not isinstance(self.schedule, WarmupLinearDecay):
            return
        train = self.config.train
        epochs = expected_epochs(done, train.epochs, elapsed, mean_epoch, longest_epoch, 60 * train.max_minutes)
        self.schedule.set_horizon(self._steps_taken() + round((epochs - done) * epoch_steps))

    # ---- persistence --------------------------------------------------------------------------------
    def _end_epoch(self, epoch: int, train: dict, valid: dict, probes, improved: bool) -> None:
        progress = self.progress
        progress.epoch = epoch
        if improved:
            progress.best_loss, progress.best_epoch, progress.epochs_without_improvement = valid["loss"], epoch, 0
        else:
            progress.epochs_without_improvement += 1
        progress.history.append({"epoch": epoch, **{k: v for k, v in train.items()},
                                 **{f"val_{k}": v for k, v in valid.items()},
                                 "probes": [{"question": q, "reply": r} for q, r in probes]})
        if not self.chief:
            return
        atomic.write_weights(self.model, self.run_dir / LAST_WEIGHTS)
        if improved:
            atomic.write_weights(self.model, self.run_dir / BEST_WEIGHTS)
        self._save_resume_state()
        self._write_metrics("running")

    def _write_metrics(self, stopped: str) -> dict:
        metrics = {"model": self.config.model.type, "parameters": int(self.model.count_params()),
                   "epochs_completed": self.progress.epoch, "best_epoch": self.progress.best_epoch,
                   "best_val_loss": self.progress.best_loss if math.isfinite(self.progress.best_loss) else None,
                   "best_val_perplexity": _perplexity(self.progress.best_loss), "stopped": stopped,
                   "xla": self.xla, "mixed_precision": keras.config.dtype_policy().name,
                   "replicas": self.strategy.num_replicas_in_sync, "history": self.progress.history}
        if self.chief:
            atomic.write_json(self.run_dir / METRICS_FILE, metrics)
        return metrics

    def _save_resume_state(self) -> None:
        ResumeCheckpoint(self.run_dir, RESUME_DIR).save(self.model, self.optimizer, self.progress.__dict__)

    def _restore(self) -> None:
        self.progress = Progress(**ResumeCheckpoint(self.run_dir, RESUME_DIR).restore(self.model, self.optimizer))


def _scale(gradient, factor):
    if gradient is None:
        return None
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * tf.cast(factor, gradient.values.dtype), gradient.indices,
                                gradient.dense_shape)
    return gradient * tf.cast(factor, gradient.dtype)


def _perplexity(loss: float) -> float | None:
    if not math.isfinite(loss):
        return None
    return math.exp(min(loss, 50.0))


def _print_epoch(epoch: int, train: dict, valid: dict, probes, improved: bool) -> None:
    accuracy = f" accuracy {train['token_accuracy']:.3f}" if train["token_accuracy"] is not None else ""
    LOG.info(f"epoch {epoch}: loss {train['loss']:.4f}{accuracy} | val loss {valid['loss']:.4f} "
             f"perplexity {valid['perplexity']:.2f} accuracy {valid['token_accuracy']:.3f} | "
             f"{train['tokens_per_second']:.0f} tokens/s{' | best so far' if improved else ''}")
    for question, reply in probes[:2]:
        LOG.info(f"    {question} -> {reply}")
