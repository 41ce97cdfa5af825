"""Parameter count and training-memory estimate of a configuration, computed without building it.

The architecture search checks these before it builds anything, so a configuration too large for
the machine is skipped instead of killing the search hours in. Each registered model type supplies
its own count and activation size (see :class:`deepqa.models.Seq2Seq`).
"""

from __future__ import annotations

from deepqa.config import Config
from deepqa.registry import MODELS

BYTES_PER_FLOAT = 4


def estimate_parameters(config: Config, vocab_size: int) -> int:
    """The exact parameter count the model of ``config`` will have."""
    return MODELS.get(config.model.type).count_parameters(config, vocab_size)


def estimate_memory_mb(config: Config, vocab_size: int) -> float:
    """A rough upper estimate of training memory: weights, gradients and two Adam moments, plus the
    activations of one batch (logits over the vocabulary and every layer's outputs, kept for backprop)."""
    parameters = estimate_parameters(config, vocab_size)
    batch, samples, train = config.train.batch_size, config.samples, config.train
    positions = samples.max_question_length + samples.decoder_length
    output_classes = min(vocab_size, train.sampled_softmax) if train.sampled_softmax else vocab_size
    per_position = MODELS.get(config.model.type).activation_floats(config)
    activations = batch * positions * per_position + 3 * batch * samples.decoder_length * output_classes
    return (4 * parameters + activations) * BYTES_PER_FLOAT / 2**20
