"""The Transformer encoder-decoder, built from keras-hub's layers.

``TokenAndPositionEmbedding`` → ``encoder_layers`` × ``TransformerEncoder``; the decoder is
``TokenAndPositionEmbedding`` → ``decoder_layers`` × ``TransformerDecoder`` (causal self-attention,
cross-attention over the encoder) → logits through the token embedding reversed (tied) or through its
own output matrix. Decoding keeps each decoder layer's key/value cache, so a step attends to the
cached prefix instead of recomputing it.
"""

from __future__ import annotations

import keras
import keras_hub
from keras import ops

from deepqa.config import Config, ModelConfig
from deepqa.errors import ConfigError
from deepqa.models.base import Seq2Seq
from deepqa.registry import MODELS
from deepqa.settings import Settings, setting


class TransformerConfig(Settings):
    """The Transformer encoder-decoder built from keras-hub layers (its width is ``[model] embedding_dim``)."""

    section = "transformer"
    encoder_layers: int = setting(2, minimum=1, maximum=128)
    decoder_layers: int = setting(2, minimum=1, maximum=128)
    heads: int = setting(4, minimum=1, maximum=1024)
    feedforward_dim: int = setting(512, minimum=2, maximum=1_000_000)
    tie_output_embedding: bool = True

    def check(self, config: Config) -> None:
        if config.model.embedding_dim % self.heads:
            raise ConfigError(f"[transformer] heads = {self.heads} must divide [model] embedding_dim = "
                              f"{config.model.embedding_dim} (each head takes an equal share of the width)")


@MODELS.register("transformer", settings=TransformerConfig)
class TransformerSeq2Seq(Seq2Seq):
    """keras-hub Transformer encoder-decoder; see the module docstring."""

    static_state_keys = ("encoder_outputs", "mask", "cross_caches")

    @classmethod
    def search_space(cls, hp, tuner):
        return {"transformer": {"encoder_layers": hp.Int("encoder_layers", tuner.layers_min, tuner.layers_max),
                                "decoder_layers": hp.Int("decoder_layers", tuner.layers_min, tuner.layers_max),
                                "heads": hp.Choice("heads", tuner.heads),
                                "feedforward_dim": hp.Choice("feedforward_dim", tuner.feedforward_dims)}}

    @classmethod
    def count_parameters(cls, config: Config, vocab_size: int) -> int:
        model, settings, samples = config.model, config.transformer, config.samples
        width, feedforward = model.embedding_dim, settings.feedforward_dim
        encoder_positions, decoder_positions = samples.max_question_length, samples.decoder_length
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

    @classmethod
    def activation_floats(cls, config: Config) -> int:
        width = max(config.model.embedding_dim, config.transformer.feedforward_dim)
        return width * (config.transformer.encoder_layers + config.transformer.decoder_layers + 2) * 8

    def __init__(self, vocab_size: int, model: ModelConfig, settings: TransformerConfig, question_length: int,
                 decoder_length: int, **kwargs):
        super().__init__(vocab_size, model, settings, question_length, decoder_length, **kwargs)
        if model.embedding_dim % settings.heads:
            raise ConfigError(f"[transformer] heads = {settings.heads} must divide [model] embedding_dim = "
                              f"{model.embedding_dim}")
        self.dim, self.heads = model.embedding_dim, settings.heads
        encoder_length = question_length

        def embedding(length, name):
            return keras_hub.layers.TokenAndPositionEmbedding(
                vocab_size, length, model.embedding_dim, tie_weights=settings.tie_output_embedding, name=name)

        if model.share_embedding:
            self.encoder_embedding = self.decoder_embedding = embedding(max(encoder_length, decoder_length), "embedding")
        else:
            self.encoder_embedding = embedding(encoder_length, "encoder_embedding")
            self.decoder_embedding = embedding(decoder_length, "decoder_embedding")
        self.embedding_dropout = keras.layers.Dropout(model.dropout)
        self.encoder_blocks = [keras_hub.layers.TransformerEncoder(settings.feedforward_dim, settings.heads,
                                                                   dropout=model.dropout, name=f"encoder_{i}")
                               for i in range(settings.encoder_layers)]
        self.decoder_blocks = [keras_hub.layers.TransformerDecoder(settings.feedforward_dim, settings.heads,
                                                                   dropout=model.dropout, name=f"decoder_{i}")
                               for i in range(settings.decoder_layers)]

    def _encode(self, encoder_ids, training=False):
        mask = ops.not_equal(encoder_ids, 0)
        x = self.embedding_dropout(self.encoder_embedding(encoder_ids), training=training)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=mask, training=training)
        return x, mask

    def features(self, inputs, training=False):
        encoder_outputs, encoder_mask = self._encode(inputs["encoder_ids"], training)
        decoder_ids = inputs["decoder_ids"]
        x = self.embedding_dropout(self.decoder_embedding(decoder_ids), training=training)
        decoder_mask = ops.not_equal(decoder_ids, 0)
        for block in self.decoder_blocks:
            x = block(x, encoder_outputs, decoder_padding_mask=decoder_mask, encoder_padding_mask=encoder_mask,
                      training=training)
        return x

    def project(self, features):
        return ops.cast(self.decoder_embedding.token_embedding(features, reverse=True), "float32")

    def output_weights(self):
        token_embedding = self.decoder_embedding.token_embedding
        weights = (token_embedding.embeddings if token_embedding.tie_weights
                   else ops.transpose(token_embedding.reverse_embeddings))
        return weights, ops.zeros((self.vocab_size,), dtype=weights.dtype)

    def embedding_tables(self):
        layers = (self.encoder_embedding, self.decoder_embedding)
        return list({id(layer): layer.token_embedding.embeddings for layer in layers}.values())

    def encode(self, encoder_ids, max_length: int) -> dict:
        encoder_outputs, mask = self._encode(encoder_ids)
        batch = ops.shape(encoder_ids)[0]
        head_dim = self.dim // self.heads
        empty_self_cache = ops.zeros((batch, 2, max_length, self.heads, head_dim), dtype=encoder_outputs.dtype)
        probe = ops.zeros((batch, 1, self.dim), dtype=encoder_outputs.dtype)
        empty_cross_cache = ops.zeros((batch, 2, ops.shape(encoder_ids)[1], self.heads, head_dim),
                                      dtype=encoder_outputs.dtype)
        cross_caches = []
        for block in self.decoder_blocks:
            # Cross-attention keys and values depend on the encoder alone: compute them once per question.
            _, _, cross_cache = block(probe, encoder_outputs, encoder_padding_mask=mask,
                                      self_attention_cache=empty_self_cache, self_attention_cache_update_index=0,
                                      cross_attention_cache=empty_cross_cache, cross_attention_cache_update_index=0)
            cross_caches.append(cross_cache)
        return {"encoder_outputs": encoder_outputs, "mask": mask,
                "self_caches": [empty_self_cache for _ in self.decoder_blocks], "cross_caches": cross_caches}

    def decode_step(self, token_ids, state: dict, index):
        x = self.decoder_embedding(ops.expand_dims(token_ids, 1), start_index=index)
        self_caches = []
        for block, self_cache, cross_cache in zip(self.decoder_blocks, state["self_caches"], state["cross_caches"]):
            x, self_cache, _ = block(x, state["encoder_outputs"], encoder_padding_mask=state["mask"],
                                     self_attention_cache=self_cache, self_attention_cache_update_index=index,
                                     cross_attention_cache=cross_cache, cross_attention_cache_update_index=None)
            self_caches.append(self_cache)
        return self.project(x)[:, 0], {**state, "self_caches": self_caches}
