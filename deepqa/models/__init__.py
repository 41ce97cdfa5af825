"""Encoder-decoder models behind the model registry, chosen by ``[model] type``."""

# Each architecture module registers itself (and its config section) on import.
from deepqa.models import rnn, transformer  # noqa: F401
from deepqa.models.base import Seq2Seq, build_model, model_settings, rebuild_model
from deepqa.registry import MODELS

__all__ = ["MODELS", "Seq2Seq", "build_model", "model_settings", "rebuild_model"]
