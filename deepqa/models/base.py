"""The interface every encoder-decoder implements, and the registry that builds one by name.

Tensor contract (B batch, Te encoder length, Td decoder length, V vocabulary):
``model({"encoder_ids": [B, Te], "decoder_ids": [B, Td]}) -> logits [B, Td, V]`` (float32), where the
decoder ids are ``<go>`` + answer and the logits predict answer + ``<eos>``; id 0 is padding.

Incremental decoding, used by every decoding strategy and by candidate scoring:
``state = model.encode(encoder_ids, max_length)`` then, for index = 0, 1, ...,
``logits [B, V], state = model.decode_step(token_ids [B], state, index)``; each step costs one
token's work, whatever the length of the prefix.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable

import keras

from deepqa.config import Config
from deepqa.errors import ConfigError

MODELS: dict[str, Callable[[int, Config], "Seq2Seq"]] = {}


def register_model(*names: str):
    """Class decorator that makes a model selectable as ``[model] type = name``."""

    def decorate(cls):
        for name in names:
            MODELS[name] = cls
        return cls

    return decorate


class Seq2Seq(keras.Model):
    """Base class of the encoder-decoders: training call, features, projection, encode, decode_step."""

    # Entries of the decoding state that depend on the question alone (the same for every hypothesis of
    # one question), so beam search never needs to reorder them.
    static_state_keys: tuple[str, ...] = ()

    def __init__(self, vocab_size: int, config: Config, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.deepqa_config = config

    def call(self, inputs: dict, training: bool = False):
        """Logits [B, Td, V] for teacher-forced decoder inputs."""
        return self.project(self.features(inputs, training=training))

    @abstractmethod
    def features(self, inputs: dict, training: bool = False):
        """Decoder output features [B, Td, H], before the output projection."""

    @abstractmethod
    def project(self, features):
        """Float32 logits [..., V] of features [..., H]."""

    @abstractmethod
    def output_weights(self) -> tuple[Any, Any]:
        """The output projection as (weights [V, H], biases [V]), for a sampled softmax."""

    def output_bias(self):
        """The output layer's bias variable [V], or None when the projection has none."""
        return None

    @abstractmethod
    def embedding_tables(self) -> list:
        """The token embedding variables [V, E] (one when encoder and decoder share it)."""

    @abstractmethod
    def encode(self, encoder_ids, max_length: int) -> dict:
        """The decoding state after reading ``encoder_ids`` [B, Te], ready for ``max_length`` steps."""

    @abstractmethod
    def decode_step(self, token_ids, state: dict, index) -> tuple[Any, dict]:
        """Logits [B, V] for the token after ``token_ids`` [B] at position ``index``, and the next state."""

    def build_for(self, encoder_length: int, decoder_length: int) -> None:
        """Create every weight by running one tiny batch through the training call and decoding."""
        import numpy as np

        self({"encoder_ids": np.ones((1, encoder_length), "int32"),
              "decoder_ids": np.ones((1, decoder_length), "int32")})
        state = self.encode(np.ones((1, encoder_length), "int32"), decoder_length)
        self.decode_step(np.ones((1,), "int32"), state, 0)


def build_model(config: Config, vocab_size: int) -> Seq2Seq:
    """The model named by ``[model] type``, with all its weights created."""
    try:
        cls = MODELS[config.model.type]
    except KeyError:
        raise ConfigError(f"unknown model type {config.model.type!r}; accepted: {', '.join(sorted(MODELS))}") from None
    model = cls(vocab_size, config)
    model.build_for(config.samples.max_question_length, config.samples.max_answer_length + 1)
    return model
