"""Text handling: normalization, tokenizers and detokenization, English- and Chinese-aware."""

from deepqa.data.text.normalize import normalize
from deepqa.data.text.tokenizers import TOKENIZERS, Tokenizer, build_tokenizer

__all__ = ["normalize", "Tokenizer", "TOKENIZERS", "build_tokenizer"]
