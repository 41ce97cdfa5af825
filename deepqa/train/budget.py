"""Parameter count and training-memory estimate of a configuration, computed without building it.

The architecture search checks these before it builds anything, so a configuration too large for
the machine is skipped instead of killing the search hours in.
"""

from __future__ import annotations

from deepqa.config import Config

BYTES_PER_FLOAT = 4


def _rnn_cell(kind: str, inputs: int, units: int) -> int:
    if kind == "lstm":
        return 4 * (units * (inputs + units) + units)
    return 3 * (units * (inputs + units) + 2 * units)  # Keras GRU: reset_after, two bias vectors


def _recurrent_parameters(config: Config, vocab_size: int) -> int:
    model, rnn = config.model, config.lstm
    directions = 2 if rnn.bidirectional else 1
    states = 2 if model.type == "lstm" else 1
    units, embedding = rnn.units, model.embedding_dim
    total = vocab_size * embedding * (1 if model.share_embedding else 2)
    for layer in range(rnn.layers):
        encoder_inputs = embedding if layer == 0 else directions * units
        total += directions * _rnn_cell(model.type, encoder_inputs, units)
        total += _rnn_cell(model.type, embedding if layer == 0 else units, units)
    if rnn.bidirectional:
        total += rnn.layers * states * (2 * units * units + units)
    total += directions * units * units + (units if rnn.attention == "bahdanau" else 0)
    if rnn.attention == "bahdanau":
        total += units * units + units
    total += (units + directions * units) * units + units  # combine
    return total + units * vocab_size + vocab_size  # output layer


def _transformer_parameters(config: Config, vocab_size: int) -> int:
    model, settings, samples = config.model, config.transformer, config.samples
    width, feedforward = model.embedding_dim, settings.feedforward_dim
    encoder_positions, decoder_positions = samples.max_question_length, samples.max_answer_length + 1
    reverse = 0 if settings.tie_output_embedding else vocab_size * width

    def embedding(positions: int) -> int:
        return vocab_size * width + positions * width + reverse

    total = (embedding(max(encoder_positions, decoder_positions)) if model.share_embedding
             else embedding(encoder_positions) + embedding(decoder_positions))
    attention = 4 * (width * width + width)
    feedforward_block = width * feedforward + feedforward + feedforward * width + width
    total += settings.encoder_layers * (attention + feedforward_block + 2 * 2 * width)
    total += settings.decoder_layers * (2 * attention + feedforward_block + 3 * 2 * width)
    return total


def estimate_parameters(config: Config, vocab_size: int) -> int:
    """The exact parameter count the model of ``config`` will have."""
    if config.model.type == "transformer":
        return _transformer_parameters(config, vocab_size)
    return _recurrent_parameters(config, vocab_size)


def estimate_memory_mb(config: Config, vocab_size: int) -> float:
    """A rough upper estimate of training memory: weights, gradients and two Adam moments, plus the
    activations of one batch (logits over the vocabulary and every layer's outputs, kept for backprop)."""
    parameters = estimate_parameters(config, vocab_size)
    batch, samples, train = config.train.batch_size, config.samples, config.train
    positions = samples.max_question_length + samples.max_answer_length + 1
    if config.model.type == "transformer":
        width = max(config.model.embedding_dim, config.transformer.feedforward_dim)
        layers = config.transformer.encoder_layers + config.transformer.decoder_layers
    else:
        width = 2 * config.lstm.units
        layers = 2 * config.lstm.layers
    output_classes = min(vocab_size, train.sampled_softmax) if train.sampled_softmax else vocab_size
    activations = batch * positions * width * (layers + 2) * 8 + 3 * batch * (samples.max_answer_length + 1) * output_classes
    return (4 * parameters + activations) * BYTES_PER_FLOAT / 2**20
