"""Encoder-decoder models behind the model registry, chosen by ``[model] type``."""

from deepqa.models.base import Seq2Seq, build_model, model_settings, rebuild_model
from deepqa.registry import MODELS, import_submodules

import_submodules(__name__, __path__)  # each architecture module registers itself and its config section

__all__ = ["MODELS", "Seq2Seq", "build_model", "model_settings", "rebuild_model"]
