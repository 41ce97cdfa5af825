"""``deepqa tune``: architecture search with keras-tuner over model type, depth, width, dropout and
learning rate, with budget guards, HParams in TensorBoard, and keras-tuner's distributed mode.

Each trial is trained by deepqa's own :class:`~deepqa.train.training.Trainer` (so every feature of
training applies), in ``DIRECTORY/PROJECT/trial_ID/run``. A configuration whose parameter count or
memory estimate is over ``[tuner]`` budget is recorded as skipped without being built; a trial that
fails (out of memory, NaN loss) is recorded as failed; the search goes on in both cases. The best
configuration is then retrained on train + valid into a normal run bundle.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import os
import threading
import time
from pathlib import Path

import keras
import keras_tuner as kt
import tensorflow as tf
from keras_tuner.src import config as keras_tuner_config

from deepqa import atomic
from deepqa.inference.chatbot import Chatbot
from deepqa.config import Config
from deepqa.data.dataset import Dataset
from deepqa.errors import ConfigError, DeepQAError
from deepqa.evaluate.evaluation import cases_from_dataset, selection_scores
from deepqa.inference.likelihood import LikelihoodScorer
from deepqa.registry import MODELS
from deepqa.train.budget import estimate_memory_mb, estimate_parameters
from deepqa.files import LOGS_DIR
from deepqa.train.run_bundle import create_run, update_latest
from deepqa.evaluate.selection import recall_report
from deepqa.train.training import Trainer, TrainingError

SKIPPED = "skipped: "
NEVER = 10**9  # keras-tuner aborts a search after this many failed trials in a row: skipped ones count too
RESULTS_NAME = "results"


class TuningError(DeepQAError):
    """The search could not run or could not finish (for example the chief timed out)."""


class DeepQAHyperModel(kt.HyperModel):
    """Declares the search space from ``[tuner]`` and turns one set of values into a deepqa Config."""

    def __init__(self, config: Config):
        super().__init__(name="deepqa")
        self.base = config

    def build(self, hp: kt.HyperParameters) -> Config:
        settings = self.base.tuner
        config = copy.deepcopy(self.base)
        config.model.type = hp.Choice("model_type", settings.model_types)
        config.model.embedding_dim = hp.Choice("embedding_dim", settings.embedding_dims)
        config.model.dropout = hp.Float("dropout", settings.dropout_min, settings.dropout_max, step=0.05)
        config.train.learning_rate = hp.Float("learning_rate", settings.learning_rate_min, settings.learning_rate_max,
                                              sampling="log")
        # One conditional scope per architecture, shared by the type names it registers under (lstm, gru).
        groups: dict[type, list[str]] = {}
        for name in settings.model_types:
            groups.setdefault(MODELS.get(name), []).append(name)
        for cls, names in groups.items():
            with hp.conditional_scope("model_type", names):
                values = cls.search_space(hp, settings)
            if config.model.type in names:
                for section, keys in values.items():
                    setattr(config, section, config.section(section).replace(**keys))
        return config


class DeepQATuner(kt.Tuner):
    """A keras-tuner Tuner whose trials are deepqa training runs."""

    def __init__(self, config: Config, dataset: Dataset, **kwargs):
        self.deepqa_config, self.dataset = config, dataset
        super().__init__(hypermodel=DeepQAHyperModel(config), **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        config = self.hypermodel.build(hp)
        settings = config.tuner
        config.train.epochs = int(hp.values.get("tuner/epochs", settings.epochs_per_trial))
        config.train.probe_questions = []
        vocab_size = len(self.dataset.vocabulary)
        try:
            config.validate()
        except ConfigError as exc:  # a combination the architecture refuses, such as heads not dividing the width
            raise kt.errors.FailedTrialError(f"{SKIPPED}{exc}") from None
        parameters = estimate_parameters(config, vocab_size)
        memory = estimate_memory_mb(config, vocab_size)
        if parameters > settings.max_parameters or memory > settings.max_memory_mb:
            raise kt.errors.FailedTrialError(f"{SKIPPED}{parameters:,} parameters, about {memory:,.0f} MB "
                                             f"(budget {settings.max_parameters:,} and {settings.max_memory_mb:,} MB)")
        started = time.perf_counter()
        results = []
        for execution in range(settings.executions_per_trial):
            keras.backend.clear_session()
            run_dir = Path(self.get_trial_dir(trial.trial_id)) / f"run{execution}"
            run_dir.mkdir(parents=True, exist_ok=True)
            try:
                trainer = Trainer(config, self.dataset, run_dir)
                metrics = trainer.fit()
                result = {"val_loss": metrics["best_val_loss"]}
                if settings.objective == "val_recall_at_1":
                    result["val_recall_at_1"] = _validation_recall(trainer, config)
            except (TrainingError, tf.errors.ResourceExhaustedError, MemoryError) as exc:
                raise kt.errors.FailedTrialError(f"failed: {str(exc).splitlines()[0]}") from None
            _log_hparams(run_dir, trial, result)
            results.append(result)
        averaged = {name: sum(r[name] for r in results) / len(results) for name in results[0]}
        return {**averaged, "parameters": float(parameters), "seconds": round(time.perf_counter() - started, 1)}


def _validation_recall(trainer: Trainer, config: Config) -> float:
    bot = Chatbot(trainer.run_dir, config, trainer.dataset.vocabulary, trainer.dataset.tokenizer, trainer.model, {})
    cases = cases_from_dataset(bot, trainer.dataset, config.eval.max_cases, 9, config.eval.seed, split="valid")
    scores = selection_scores(LikelihoodScorer(bot.model, config.eval.batch_size), cases, config.eval.mmi_lambda)
    return recall_report(scores)["1_in_10_R@1"]


def _log_hparams(run_dir: Path, trial, result: dict) -> None:
    """The trial's hyperparameters and objective, for TensorBoard's HParams tab."""
    from tensorboard.plugins.hparams import api as hparams_api

    values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
    with tf.summary.create_file_writer(str(run_dir / LOGS_DIR)).as_default():
        hparams_api.hparams(values, trial_id=trial.trial_id)
        for name, value in result.items():
            tf.summary.scalar(f"hparams/{name}", value, step=0)


ORACLES = {"random": kt.oracles.RandomSearchOracle, "bayesian": kt.oracles.BayesianOptimizationOracle,
           "hyperband": kt.oracles.HyperbandOracle}


def make_tuner(config: Config, dataset: Dataset) -> DeepQATuner:
    """The tuner for ``[tuner]``: its oracle, objective, directory and resume behaviour."""
    settings = config.tuner
    keras_tuner_config.DEBUG = False  # a failed or skipped trial is a row of the results table, not a traceback
    direction = "min" if settings.objective == "val_loss" else "max"
    objective = kt.Objective(settings.objective, direction)
    if settings.algorithm == "hyperband":
        oracle = ORACLES["hyperband"](objective=objective, max_epochs=settings.epochs_per_trial, seed=settings.seed,
                                      max_consecutive_failed_trials=NEVER)
    else:
        oracle = ORACLES[settings.algorithm](objective=objective, max_trials=settings.max_trials, seed=settings.seed,
                                            max_consecutive_failed_trials=NEVER)
    return DeepQATuner(config, dataset, oracle=oracle, directory=settings.directory,
                       project_name=settings.project_name, overwrite=settings.overwrite)


def results_table(tuner: DeepQATuner) -> list[dict]:
    """One row per trial: id, hyperparameters, objective, parameters, seconds, status and message."""
    rows = []
    objective = tuner.oracle.objective.name
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        metrics = trial.metrics
        def best(name):
            return metrics.get_best_value(name) if metrics.exists(name) else None
        message = _reason(getattr(trial, "message", None) or "")
        status = "skipped" if message.startswith(SKIPPED) else str(trial.status).split(".")[-1].lower()
        rows.append({"trial": trial_id, "status": status, objective: best(objective),
                     "parameters": best("parameters"), "seconds": best("seconds"),
                     "hyperparameters": {k: v for k, v in trial.hyperparameters.values.items()},
                     "message": message.removeprefix(SKIPPED)})
    return rows


def _reason(message: str) -> str:
    """The reason a trial failed, from the traceback keras-tuner stores: its last line, without the class."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last.split("Error: ", 1)[1] if "Error: " in last else last


def save_results(tuner: DeepQATuner, rows: list[dict]) -> tuple[Path, Path]:
    """Write the results table as JSON and CSV into the project folder."""
    folder = Path(tuner.project_dir)
    atomic.write_json(folder / f"{RESULTS_NAME}.json", rows)
    names = sorted({name for row in rows for name in row["hyperparameters"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    objective = tuner.oracle.objective.name
    writer.writerow(["trial", "status", objective, "parameters", "seconds", *names, "message"])
    for row in rows:
        writer.writerow([row["trial"], row["status"], row[objective], row["parameters"], row["seconds"],
                         *[row["hyperparameters"].get(name, "") for name in names], row["message"]])
    atomic.write_text(folder / f"{RESULTS_NAME}.csv", buffer.getvalue())
    return folder / f"{RESULTS_NAME}.json", folder / f"{RESULTS_NAME}.csv"


def format_results(rows: list[dict], objective: str) -> str:
    """The results table for the console."""
    lines = [f"{'trial':<8}{'status':<11}{objective:>16}{'parameters':>13}{'seconds':>9}  hyperparameters"]
    for row in rows:
        value = f"{row[objective]:.4f}" if row[objective] is not None else "-"
        parameters = f"{int(row['parameters']):,}" if row["parameters"] else "-"
        seconds = f"{row['seconds']:.0f}" if row["seconds"] else "-"
        described = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in row["hyperparameters"].items() if not k.startswith("tuner/"))
        note = f"  [{row['message']}]" if row["message"] else ""
        lines.append(f"{row['trial']:<8}{row['status']:<11}{value:>16}{parameters:>13}{seconds:>9}  {described}{note}")
    return "\n".join(lines)


def retrain_best(tuner: DeepQATuner, config: Config, dataset: Dataset, run_name: str | None) -> Path:
    """Train the best configuration on train + valid for the full epoch count into a run bundle."""
    ranked = tuner.oracle.get_best_trials(len(tuner.oracle.trials))
    best = [trial for trial in ranked if trial.status == "COMPLETED" and trial.score is not None]
    if not best:
        raise TuningError("no trial completed (every one was skipped or failed), so there is no best configuration "
                          "to retrain; see the results table, and widen [tuner] max_parameters / max_memory_mb or "
                          "narrow the ranges")
    final = tuner.hypermodel.build(best[0].hyperparameters)
    final.train.epochs = config.tuner.final_epochs or config.train.epochs
    final.train.early_stopping_patience = 0  # the validation split is now part of training
    run_dir = create_run(final, dataset, run_name)
    atomic.write_json(run_dir / "tuning.json", {"project": str(tuner.project_dir), "trial": best[0].trial_id,
                                                "hyperparameters": best[0].hyperparameters.values})
    keras.backend.clear_session()
    Trainer(final, dataset, run_dir, train_splits=("train", "valid")).fit()
    update_latest(run_dir)  # only once the run has weights
    return run_dir


def distributed_role(chief: bool, worker: bool, tuner_id: str | None, config: Config) -> None:
    """Set keras-tuner's environment for its distributed mode (chief runs the oracle, workers the trials)."""
    if not (chief or worker):
        return
    os.environ["KERASTUNER_ORACLE_IP"] = config.tuner.oracle_ip
    os.environ["KERASTUNER_ORACLE_PORT"] = str(config.tuner.oracle_port)
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if chief else (tuner_id or f"worker-{os.getpid()}")


def search(tuner: DeepQATuner, timeout_minutes: float, is_chief: bool) -> None:
    """Run the search; the chief gives up with a clear error after ``timeout_minutes`` (0: never)."""
    if not is_chief or not timeout_minutes:
        tuner.search()
        return
    failure: list[BaseException] = []

    def serve():
        try:
            tuner.search()
        except BaseException as exc:  # reported below, in the main thread
            failure.append(exc)

    thread = threading.Thread(target=serve, daemon=True, name="deepqa-tuner-chief")
    thread.start()
    thread.join(timeout_minutes * 60)
    if thread.is_alive():
        raise TuningError(f"the search did not end within {timeout_minutes} minutes ([tuner] chief_timeout_minutes); "
                          "a worker may have died mid-trial. Its finished trials are kept: start the chief again "
                          "without overwrite to resume")
    if failure:
        raise failure[0]


def summary_text(tuner: DeepQATuner) -> str:
    """keras-tuner's search space summary, as text."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tuner.search_space_summary(extended=True)
    return buffer.getvalue()


def describe_results(tuner: DeepQATuner) -> str:
    """Save and format the results table."""
    rows = results_table(tuner)
    json_path, csv_path = save_results(tuner, rows)
    return format_results(rows, tuner.oracle.objective.name) + f"\nresults: {json_path} and {csv_path}"

