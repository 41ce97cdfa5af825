"""Training: bad input is refused before training starts, a NaN loss stops it, the losses match their
definitions, and a fresh model starts from the unigram distribution. Whole training runs are in
tests/integration/test_training_loop.py."""

import numpy as np
import pytest

from deepqa.data.dataset import Dataset
from deepqa.errors import DatasetError
from deepqa.train.setup import new_training, resumed_training
from deepqa.train.training import TrainingError
from deepqa.data.vocab import EOS
from tests.conftest import training_config


def test_bad_input_is_refused_before_training(tmp_path, memory_data):
    with pytest.raises(DatasetError, match="no dataset"):
        new_training(training_config(tmp_path), str(tmp_path / "missing"))
    new_training(training_config(tmp_path), str(memory_data), "taken")
    with pytest.raises(DatasetError, match="exists already"):
        new_training(training_config(tmp_path), str(memory_data), "taken")
    with pytest.raises(TrainingError, match="no completed epoch"):
        resumed_training(str(tmp_path / "save" / "taken"), [])


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_state(tmp_path, memory_data):
    trainer = new_training(training_config(tmp_path, "train.epochs=3", "train.learning_rate=1e38",
                                      "train.schedule=constant", "train.clip_norm=0"), str(memory_data), "nan")
    with pytest.raises(TrainingError, match="loss became"):
        trainer.fit()



def test_losses_match_their_definitions():
    import tensorflow as tf

    from deepqa.train.losses import correct_tokens, cross_entropy_sum

    logits = tf.constant([[[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]]])
    targets = tf.constant([[2, 0]])  # the second position is padding
    log_probs = tf.nn.log_softmax(logits)[0, 0].numpy()
    assert float(cross_entropy_sum(logits, targets)) == pytest.approx(-log_probs[2], rel=1e-6)
    smoothed = float(cross_entropy_sum(logits, targets, label_smoothing=0.3))
    assert smoothed == pytest.approx(0.7 * -log_probs[2] + 0.3 * -log_probs.mean(), rel=1e-6)
    assert float(correct_tokens(logits, targets)) == 0.0
    assert float(correct_tokens(logits, tf.constant([[2, 1]]))) == 1.0  # arg-max 0 misses 2, arg-max 1 hits 1


def test_a_fresh_model_starts_from_the_answers_unigram_distribution(tmp_path, memory_data):
    trainer = new_training(training_config(tmp_path), str(memory_data), "unigram")
    dataset = Dataset.load(memory_data)
    train = dataset.samples.of_split("train")
    counts = np.bincount(np.concatenate([train.answer(i) for i in range(len(train))]), minlength=len(dataset.vocabulary))
    counts[EOS] += len(train)
    bias = trainer.model.output_bias().numpy()
    np.testing.assert_allclose(np.exp(bias), (counts + 1) / (counts.sum() + len(counts)), rtol=1e-4)
    assert bias.argmax() == EOS  # every answer ends with <eos>, more often than any word
