"""Text handling: normalization, tokenizers and detokenization, English- and Chinese-aware."""

from deepqa.data.text.normalize import normalize
from deepqa.data.text.tokenizers import Tokenizer, build_tokenizer
from deepqa.registry import TOKENIZERS, import_submodules

import_submodules(__name__, __path__)  # each tokenizer module registers itself

__all__ = ["normalize", "Tokenizer", "TOKENIZERS", "build_tokenizer"]
