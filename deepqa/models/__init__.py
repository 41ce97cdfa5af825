"""Encoder-decoder models behind a name → class registry, chosen by ``[model] type``."""

# Each architecture module registers itself on import.
from deepqa.models import rnn, transformer  # noqa: F401
from deepqa.models.base import MODELS, Seq2Seq, build_model, register_model

__all__ = ["MODELS", "Seq2Seq", "build_model", "register_model"]
