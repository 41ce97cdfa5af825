"""Training runs of a tiny model on made-up pairs: it memorises them, the run bundle and TensorBoard get
every file and scalar, resume continues where it stopped, every training option runs and stays finite,
and the time limit stops before an epoch that would overrun."""

import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from deepqa.cli import main
from deepqa.config import DecodeConfig
from deepqa.data.dataset import Dataset
from deepqa.inference.decoding import Decoder, reply_texts
from deepqa.errors import ConfigError
from deepqa.models import build_model
from deepqa.train.setup import new_training, resumed_training
from tests.conftest import TINY_MODEL, make_config, training_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model_type", ["lstm", "transformer"])
def test_a_tiny_model_memorises_twenty_pairs(tmp_path, memory_data, model_type):
    config = training_config(tmp_path, f"model.type={model_type}", "model.embedding_dim=32", "lstm.units=32",
                        "transformer.feedforward_dim=64", "model.dropout=0", "train.schedule=constant",
                        "train.learning_rate=0.02", "train.epochs=12", "train.steps_per_epoch=10", "train.batch_size=32",
                        "train.early_stopping_patience=0", "train.probe_questions=")
    trainer = new_training(config, str(memory_data), "memorise")
    metrics = trainer.fit()
    assert metrics["history"][-1]["loss"] < 0.1 < metrics["history"][0]["loss"]
    dataset = Dataset.load(memory_data)
    train = dataset.samples.of_split("train")
    questions = [dataset.tokenizer.detokenize(dataset.vocabulary.decode(train.question(i))) for i in range(len(train))]
    answers = [dataset.tokenizer.detokenize(dataset.vocabulary.decode(train.answer(i))) for i in range(len(train))]
    greedy = DecodeConfig(strategy="greedy", no_repeat_ngram_size=0, repetition_penalty=1.0)
    replies = reply_texts(Decoder(trainer.model, 21), questions, dataset.tokenizer, dataset.vocabulary, 20, greedy)
    assert sum(r == a for r, a in zip(replies, answers)) >= 0.9 * len(answers)


def test_run_bundle_tensorboard_and_reload(tmp_path, memory_data):
    code = main(["train", "--data", str(memory_data), "--run-name", "r1", *sum((["--set", s] for s in TINY_MODEL), []),
                 "--set", f"train.save_dir={tmp_path / 'save'}", "--set", "train.epochs=2"])
    assert code == 0
    run = tmp_path / "save" / "r1"
    for name in ("config.ini", "vocab.json", "dataset.json", "best.weights.h5", "last.weights.h5", "metrics.json"):
        assert (run / name).is_file(), name
    assert (tmp_path / "save" / "latest").resolve() == run.resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2 and metrics["stopped"] == "completed"
    assert {"loss", "perplexity", "token_accuracy", "val_loss", "learning_rate", "probes"} <= set(metrics["history"][0])

    train_events = EventAccumulator(str(run / "logs" / "train"), size_guidance={"tensors": 0}).Reload()
    valid_events = EventAccumulator(str(run / "logs" / "validation"), size_guidance={"tensors": 0}).Reload()
    train_tags, valid_tags = set(train_events.Tags()["tensors"]), set(valid_events.Tags()["tensors"])
    assert {"loss", "perplexity", "token_accuracy", "learning_rate", "probe_replies"} <= train_tags
    assert {"loss", "perplexity", "token_accuracy"} <= valid_tags
    assert [event.step for event in valid_events.Tensors("loss")] == [1, 2]
    assert train_events.Graph() is not None

    config = make_config(path=run / "config.ini")
    model = build_model(config, len(Dataset.load(memory_data).vocabulary))
    model.load_weights(run / "last.weights.h5")
    batch = {"encoder_ids": np.array([[4, 5, 6]], "int32"), "decoder_ids": np.array([[1, 4]], "int32")}
    again = build_model(config, len(Dataset.load(memory_data).vocabulary))
    again.load_weights(run / "last.weights.h5")
    np.testing.assert_array_equal(np.asarray(model(batch)), np.asarray(again(batch)))


def test_resume_continues_after_the_last_completed_epoch(tmp_path, memory_data):
    trainer = new_training(training_config(tmp_path, "train.epochs=2"), str(memory_data), "r")
    trainer.fit()
    weights_before = [np.asarray(w).copy() for w in trainer.model.weights]
    # A crash between the two renames of the resume state leaves only resume.old: still resumable.
    (trainer.run_dir / "resume").rename(trainer.run_dir / "resume.old")
    resumed = resumed_training(str(trainer.run_dir), ["train.epochs=4"])
    for before, after in zip(weights_before, resumed.model.weights):
        np.testing.assert_array_equal(before, np.asarray(after))
    assert resumed.progress.epoch == 2
    metrics = resumed.fit()
    assert [entry["epoch"] for entry in metrics["history"]] == [1, 2, 3, 4]
    with pytest.raises(ConfigError, match="cannot change \\[model\\]"):
        resumed_training(str(trainer.run_dir), ["model.embedding_dim=16"])


@pytest.mark.parametrize("options", [
    ("train.sampled_softmax=5", "train.label_smoothing=0.1"),
    ("train.xla=true", "model.type=transformer", "train.sampled_softmax=5"),
    ("train.mixed_precision=true", "train.distribution=mirrored"),
    ("train.mixed_precision=bfloat16", "train.sampled_softmax=5"),
    ("train.mixed_precision=bfloat16", "model.type=transformer"),
    ("train.schedule=warmup_linear", "train.warmup_steps=1"),
    ("train.schedule=plateau", "train.plateau_patience=1", "train.plateau_factor=0.5", "train.learning_rate=1e-9",
     "model.type=gru", "lstm.attention=bahdanau"),
])
def test_training_options_run_and_stay_finite(tmp_path, memory_data, options):
    epochs = 3 if "train.schedule=plateau" in options else 2
    trainer = new_training(training_config(tmp_path, f"train.epochs={epochs}", "train.early_stopping_patience=0", *options),
                           str(memory_data), "options")
    metrics = trainer.fit()
    assert all(np.isfinite(entry["loss"]) and np.isfinite(entry["val_loss"]) for entry in metrics["history"])
    if "train.sampled_softmax=5" in options:
        assert metrics["history"][0]["token_accuracy"] is None
    if "train.mixed_precision=true" in options:
        assert metrics["mixed_precision"] == "mixed_float16"
    if "train.mixed_precision=bfloat16" in options:
        assert metrics["mixed_precision"] == "mixed_bfloat16"
        assert all(weight.dtype == "float32" for weight in trainer.model.weights)
    if "train.schedule=warmup_linear" in options:  # falls to zero at the last step of the last epoch
        rates = [entry["learning_rate"] for entry in metrics["history"]]
        assert rates[0] > 0 and rates[-1] == pytest.approx(0.0)
    if "train.schedule=plateau" in options:  # a rate too small to improve anything is halved after epoch 2
        rates = [entry["learning_rate"] for entry in metrics["history"]]
        assert rates == pytest.approx([1e-9, 1e-9, 5e-10])

def test_time_limit_stops_before_an_epoch_that_would_overrun(tmp_path, memory_data):
    trainer = new_training(training_config(tmp_path, "train.epochs=5", "train.max_minutes=0.0001"), str(memory_data), "timed")
    metrics = trainer.fit()
    assert metrics["stopped"] == "time_limit" and metrics["epochs_completed"] == 1
