"""The interface every encoder-decoder implements, and building one by name from the model registry.

Tensor contract (B batch, Te encoder length, Td decoder length, V vocabulary):
``model({"encoder_ids": [B, Te], "decoder_ids": [B, Td]}) -> logits [B, Td, V]`` (float32), where the
decoder ids are ``<go>`` + answer and the logits predict answer + ``<eos>``; id 0 is padding.

Incremental decoding, used by every decoding strategy and by candidate scoring:
``state = model.encode(encoder_ids, max_length)`` then, for index = 0, 1, ...,
``logits [B, V], state = model.decode_step(token_ids [B], state, index)``; each step costs one
token's work, whatever the length of the prefix.

A model is registered with ``@MODELS.register(name, settings=SettingsClass)``: the settings class is its
own config section. A model takes the shared ``[model]`` settings, its own section and the two lengths,
never the whole configuration, and ``get_config`` / ``from_config`` rebuild it from ``model.json``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import keras

from deepqa.config import Config, ModelConfig
from deepqa.registry import MODELS
from deepqa.settings import Settings


class Seq2Seq(keras.Model):
    """Base class of the encoder-decoders: training call, features, projection, encode, decode_step, and the
    hooks the architecture search asks of a registered model (search space, parameter count, memory)."""

    # Entries of the decoding state that depend on the question alone (the same for every hypothesis of
    # one question), so beam search never needs to reorder them.
    static_state_keys: tuple[str, ...] = ()

    def __init__(self, vocab_size: int, model: ModelConfig, settings: Settings | None, question_length: int,
                 decoder_length: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.model_settings, self.settings = model, settings
        self.question_length, self.decoder_length = question_length, decoder_length

    def get_config(self) -> dict:
        """Everything needed to build this model again (see :meth:`from_config`)."""
        return {"vocab_size": int(self.vocab_size), "model": self.model_settings.model_dump(),
                "settings": self.settings.model_dump() if self.settings is not None else None,
                "question_length": self.question_length, "decoder_length": self.decoder_length}

    @classmethod
    def from_config(cls, config: dict) -> "Seq2Seq":
        model = ModelConfig.model_validate(config["model"])
        settings_class = MODELS.settings_of(model.type)
        settings = settings_class.model_validate(config["settings"]) if settings_class else None
        return cls(config["vocab_size"], model, settings, config["question_length"], config["decoder_length"])

    # ---- what the architecture search asks of a model type, without building it -----------------------
    @classmethod
    def search_space(cls, hp, tuner) -> dict[str, dict[str, Any]]:
        """Declare this architecture's hyperparameters on ``hp`` (keras-tuner) within ``[tuner]``'s ranges and
        return the settings they set, by section. Called inside a scope active only for this model type."""
        return {}

    @classmethod
    def count_parameters(cls, config: Config, vocab_size: int) -> int:
        """The exact parameter count of the model ``config`` describes. This default builds it; an
        architecture overrides it with arithmetic so that the search can check budgets for free."""
        keras.backend.clear_session()
        return int(build_model(config, vocab_size).count_params())

    @classmethod
    def activation_floats(cls, config: Config) -> int:
        """Floats of activations kept per token position and example for the backward pass (an estimate)."""
        return 2 * config.model.embedding_dim * 8

    # ---- the model itself ------------------------------------------------------------------------------
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


def model_settings(config: Config) -> Settings | None:
    """The settings section of the configured model type, if it has one."""
    settings_class = MODELS.settings_of(config.model.type)
    return config.section(settings_class.section) if settings_class else None


def build_model(config: Config, vocab_size: int) -> Seq2Seq:
    """The model named by ``[model] type``, with all its weights created."""
    cls = MODELS.get(config.model.type)
    samples = config.samples
    model = cls(vocab_size, config.model, model_settings(config), samples.max_question_length, samples.decoder_length)
    model.build_for(samples.max_question_length, samples.decoder_length)
    return model


def rebuild_model(model_config: dict) -> Seq2Seq:
    """A model from the ``get_config`` of another (a bundle's ``model.json``), with all its weights created."""
    cls = MODELS.get(model_config["model"]["type"])
    model = cls.from_config(model_config)
    model.build_for(model.question_length, model.decoder_length)
    return model
