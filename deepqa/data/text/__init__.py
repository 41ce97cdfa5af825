"""Text handling: normalization, tokenizers and detokenization, English- and Chinese-aware."""

# Each tokenizer module registers itself on import.
from deepqa.data.text import subword, tokenizers  # noqa: F401
from deepqa.data.text.normalize import normalize
from deepqa.data.text.tokenizers import Tokenizer, build_tokenizer
from deepqa.registry import TOKENIZERS

__all__ = ["normalize", "Tokenizer", "TOKENIZERS", "build_tokenizer"]
