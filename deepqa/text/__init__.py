"""Text handling: normalization, tokenizers and detokenization, English- and Chinese-aware."""

from deepqa.text.normalize import normalize
from deepqa.text.tokenizers import TOKENIZERS, Tokenizer, build_tokenizer

__all__ = ["normalize", "Tokenizer", "TOKENIZERS", "build_tokenizer"]
