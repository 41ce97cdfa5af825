"""Encoder-decoder models behind a name → class registry, chosen by ``[model] type``."""

from deepqa.models.base import MODELS, Seq2Seq, build_model, register_model

# Each architecture module registers itself on import.
from deepqa.models import rnn, transformer  # noqa: E402,F401

__all__ = ["MODELS", "Seq2Seq", "build_model", "register_model"]
