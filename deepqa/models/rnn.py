"""The recurrent encoder-decoder (LSTM or GRU) with Luong or Bahdanau attention.

Encoder: embedding → ``layers`` recurrent layers (optionally bidirectional, their two final states
joined by a dense bridge). Decoder: embedding → ``layers`` recurrent layers started from the
encoder's final states → attention over the encoder outputs → ``tanh(W [h; context])`` → logits, through
an output layer or, with ``tie_output_embedding``, through the decoder embedding transposed.
Attention comes after the recurrent layers (Luong's scheme), so training runs every layer over the
whole sequence at once and a decoding step only advances the recurrent states by one token.
"""

from __future__ import annotations

import keras
from keras import ops

from typing import Literal

from deepqa.config import Config, ModelConfig
from deepqa.models.attention import EncoderAttention
from deepqa.models.base import Seq2Seq
from deepqa.registry import MODELS
from deepqa.settings import Settings, setting


class LstmConfig(Settings):
    """The recurrent encoder-decoder (``lstm`` or ``gru``) with attention."""

    section = "lstm"
    layers: int = setting(2, minimum=1, maximum=64)
    units: int = setting(256, minimum=2, maximum=65536)
    bidirectional: bool = True
    attention: Literal["luong", "bahdanau"] = "luong"
    tie_output_embedding: bool = False


def _cell_parameters(kind: str, inputs: int, units: int) -> int:
    if kind == "lstm":
        return 4 * (units * (inputs + units) + units)
    return 3 * (units * (inputs + units) + 2 * units)  # Keras GRU: reset_after, two bias vectors


@MODELS.register("lstm", "gru", settings=LstmConfig)
class RecurrentSeq2Seq(Seq2Seq):
    """LSTM or GRU encoder-decoder with attention; see the module docstring."""

    static_state_keys = ("encoder_outputs", "keys", "mask")

    @classmethod
    def search_space(cls, hp, tuner):
        return {"lstm": {"layers": hp.Int("rnn_layers", tuner.layers_min, tuner.layers_max),
                         "units": hp.Choice("units", tuner.units)}}

    @classmethod
    def count_parameters(cls, config: Config, vocab_size: int) -> int:
        model, rnn = config.model, config.lstm
        directions = 2 if rnn.bidirectional else 1
        states = 2 if model.type == "lstm" else 1
        units, embedding = rnn.units, model.embedding_dim
        total = vocab_size * embedding * (1 if model.share_embedding else 2)
        for layer in range(rnn.layers):
            encoder_inputs = embedding if layer == 0 else directions * units
            total += directions * _cell_parameters(model.type, encoder_inputs, units)
            total += _cell_parameters(model.type, embedding if layer == 0 else units, units)
        if rnn.bidirectional:
            total += rnn.layers * states * (2 * units * units + units)
        total += directions * units * units + (units if rnn.attention == "bahdanau" else 0)
        if rnn.attention == "bahdanau":
            total += units * units + units
        features = embedding if rnn.tie_output_embedding else units
        total += (units + directions * units) * features + features  # combine
        projection = 0 if rnn.tie_output_embedding else features * vocab_size
        return total + projection + vocab_size  # output layer (its bias alone when tied)

    @classmethod
    def activation_floats(cls, config: Config) -> int:
        return 2 * config.lstm.units * (2 * config.lstm.layers + 2) * 8

    def __init__(self, vocab_size: int, model: ModelConfig, settings: LstmConfig, question_length: int,
                 decoder_length: int, **kwargs):
        super().__init__(vocab_size, model, settings, question_length, decoder_length, **kwargs)
        rnn = settings
        layer_class = keras.layers.LSTM if model.type == "lstm" else keras.layers.GRU
        self.states_per_layer = 2 if model.type == "lstm" else 1
        self.bidirectional = rnn.bidirectional
        self.encoder_embedding = keras.layers.Embedding(vocab_size, model.embedding_dim, name="encoder_embedding")
        self.decoder_embedding = self.encoder_embedding if model.share_embedding else keras.layers.Embedding(
            vocab_size, model.embedding_dim, name="decoder_embedding")
        self.dropout = keras.layers.Dropout(model.dropout)

        def recurrent(name):
            return layer_class(rnn.units, return_sequences=True, return_state=True, name=name)

        self.encoder_layers = [keras.layers.Bidirectional(recurrent(f"encoder_{i}"), name=f"bi_encoder_{i}")
                               if rnn.bidirectional else recurrent(f"encoder_{i}") for i in range(rnn.layers)]
        self.bridges = [[keras.layers.Dense(rnn.units, activation="tanh", name=f"bridge_{i}_{j}")
                         for j in range(self.states_per_layer)] for i in range(rnn.layers)] if rnn.bidirectional else []
        self.decoder_layers = [recurrent(f"decoder_{i}") for i in range(rnn.layers)]
        self.attention = EncoderAttention(rnn.attention, rnn.units, name="attention")
        self.tied = rnn.tie_output_embedding
        # Tied, the features live in the embedding space and the decoder embedding, transposed, projects them.
        self.combine = keras.layers.Dense(model.embedding_dim if self.tied else rnn.units, activation="tanh",
                                          name="combine")
        if self.tied:
            self.output_bias_weight = self.add_weight(shape=(vocab_size,), initializer="zeros",
                                                      dtype="float32", name="output_bias")
        else:
            self.output_layer = keras.layers.Dense(vocab_size, dtype="float32", name="output")

    def _encode(self, encoder_ids, training=False):
        """Encoder outputs, attention keys, padding mask and the decoder's initial states per layer."""
        mask = ops.not_equal(encoder_ids, 0)
        x = self.dropout(self.encoder_embedding(encoder_ids), training=training)
        initial_states = []
        for index, layer in enumerate(self.encoder_layers):
            outputs = layer(x, mask=mask, training=training)
            x, states = outputs[0], list(outputs[1:])
            if self.bidirectional:
                forward, backward = states[:self.states_per_layer], states[self.states_per_layer:]
                states = [bridge(ops.concatenate([f, b], axis=-1))
                          for bridge, f, b in zip(self.bridges[index], forward, backward)]
            initial_states.append(states)
            x = self.dropout(x, training=training)
        return x, self.attention.keys(x), mask, initial_states

    def _attend(self, hidden, encoder_outputs, keys, mask, training=False):
        context = self.attention(hidden, keys, encoder_outputs, mask)
        return self.dropout(self.combine(ops.concatenate([hidden, context], axis=-1)), training=training)

    def features(self, inputs, training=False):
        encoder_outputs, keys, encoder_mask, states = self._encode(inputs["encoder_ids"], training)
        decoder_ids = inputs["decoder_ids"]
        x = self.dropout(self.decoder_embedding(decoder_ids), training=training)
        # No padding mask: answers are padded at the end, so the outputs at real tokens are the same without
        # one, and the loss ignores the padded positions. A mask would cost a select a time step and layer.
        for layer, initial_state in zip(self.decoder_layers, states):
            x = layer(x, initial_state=initial_state, training=training)[0]
        return self._attend(x, encoder_outputs, keys, encoder_mask, training)

    def embedding_tables(self):
        return list({id(layer): layer.embeddings for layer in (self.encoder_embedding, self.decoder_embedding)}.values())

    def project(self, features):
        if not self.tied:
            return self.output_layer(features)
        weights = ops.cast(self.decoder_embedding.embeddings, "float32")
        return ops.matmul(ops.cast(features, "float32"), ops.transpose(weights)) + self.output_bias_weight

    def output_weights(self):
        if self.tied:
            return self.decoder_embedding.embeddings, self.output_bias_weight
        return ops.transpose(self.output_layer.kernel), self.output_layer.bias

    def output_bias(self):
        return self.output_bias_weight if self.tied else self.output_layer.bias

    def encode(self, encoder_ids, max_length: int) -> dict:
        encoder_outputs, keys, mask, states = self._encode(encoder_ids)
        return {"encoder_outputs": encoder_outputs, "keys": keys, "mask": mask, "states": states}

    def decode_step(self, token_ids, state: dict, index):
        x = self.decoder_embedding(token_ids)
        new_states = []
        for layer, layer_state in zip(self.decoder_layers, state["states"]):
            # One step of the layer's cell: no loop over a sequence of length one.
            x, cell_state = layer.cell(x, layer_state)
            new_states.append(list(cell_state))
        features = self._attend(ops.expand_dims(x, 1), state["encoder_outputs"], state["keys"], state["mask"])
        return self.project(features)[:, 0], {**state, "states": new_states}
