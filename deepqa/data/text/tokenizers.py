"""Tokenizers behind a name → class registry, chosen by ``[tokenizer] type``.

Every tokenizer normalizes (see :mod:`deepqa.data.text.normalize`), splits into tokens, and joins tokens
back into text. For any text ``t``, ``detokenize(tokenize(t)) == canonical(t)``, where ``canonical``
is the documented normalization, with English spacing of punctuation, and sentence case when
lower-casing is on.
"""

from __future__ import annotations

import functools
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable

from deepqa.config import TokenizerConfig
from deepqa.errors import ConfigError
from deepqa.files import USER_DICT_FILE
from deepqa.registry import TOKENIZERS
from deepqa.data.text.english import join_tokens, sentence_case, split_words
from deepqa.data.text.normalize import normalize
from deepqa.data.text.script import split_runs



def register_tokenizer(name: str):
    """Class decorator that makes a tokenizer selectable as ``[tokenizer] type = name``."""

    def decorate(cls):
        cls.name = name
        return TOKENIZERS.register(name)(cls)

    return decorate


class Tokenizer(ABC):
    """Base class: normalize, split into tokens, join back; optionally trained and saved."""

    name = "base"
    # Whether splitting is slow enough that a large corpus is worth spreading over several processes.
    slow_split = False

    def __init__(self, config: TokenizerConfig, model_dir: str | Path | None = None):
        self.config = config

    def normalize(self, text: str) -> str:
        """The documented normalization of ``text`` for this tokenizer."""
        return normalize(text, lowercase=self.config.lowercase)

    def tokenize(self, text: str) -> list[str]:
        """Normalize ``text`` and split it into tokens."""
        return self.split(self.normalize(text))

    @abstractmethod
    def split(self, normalized: str) -> list[str]:
        """Split already-normalized text into tokens."""

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Join tokens into readable text."""
        text = join_tokens(list(tokens))
        return sentence_case(text) if self.config.lowercase else text

    def fit(self, normalized_texts: Iterable[str], out_dir: str | Path) -> None:
        """Learn from the training texts, writing any model into ``out_dir``. Most tokenizers need nothing."""

    def save(self, out_dir: str | Path) -> None:
        """Copy whatever the tokenizer needs to be rebuilt into ``out_dir``."""


@register_tokenizer("word")
class WordTokenizer(Tokenizer):
    """English-aware words, contractions and punctuation."""

    def split(self, normalized: str) -> list[str]:
        return split_words(normalized)


@functools.lru_cache(maxsize=8)
def _jieba_segmenter(user_dict: str | None):
    """One jieba segmenter per user dictionary: loading jieba's dictionary takes about a second."""
    import jieba  # imported lazily: it is slow to load and only the Chinese tokenizers need it

    jieba.setLogLevel(60)
    segmenter = jieba.Tokenizer()
    if user_dict is not None:
        segmenter.load_userdict(user_dict)
    return segmenter


class _JiebaUser(Tokenizer):
    """Shared set-up of the tokenizers that segment Chinese with jieba."""

    slow_split = True

    def __init__(self, config: TokenizerConfig, model_dir: str | Path | None = None):
        super().__init__(config, model_dir)
        self._user_dict = self._find_user_dict(model_dir)
        self._jieba = _jieba_segmenter(str(self._user_dict.resolve()) if self._user_dict else None)

    def _find_user_dict(self, model_dir: str | Path | None) -> Path | None:
        saved = Path(model_dir) / USER_DICT_FILE if model_dir else None
        if saved is not None and saved.is_file():
            return saved
        if self.config.user_dict:
            path = Path(self.config.user_dict)
            if not path.is_file():
                raise ConfigError(f"[tokenizer] user_dict {self.config.user_dict!r} is not a file")
            return path
        return None

    def segment(self, chinese: str) -> list[str]:
        """jieba's precise-mode segmentation, without whitespace tokens."""
        return [word for word in self._jieba.lcut(chinese, cut_all=False, HMM=True) if word.strip()]

    def save(self, out_dir: str | Path) -> None:
        if self._user_dict is not None:
            target = Path(out_dir) / USER_DICT_FILE
            if self._user_dict.resolve() != target.resolve():
                shutil.copyfile(self._user_dict, target)


@register_tokenizer("jieba")
class JiebaTokenizer(_JiebaUser):
    """Chinese words by jieba's precise mode (other text as jieba splits it)."""

    def split(self, normalized: str) -> list[str]:
        return self.segment(normalized)


@register_tokenizer("mixed")
class MixedTokenizer(_JiebaUser):
    """Chinese runs segmented by jieba, other text split into English-aware words."""

    def split(self, normalized: str) -> list[str]:
        tokens: list[str] = []
        for cjk, run in split_runs(normalized):
            tokens.extend(self.segment(run) if cjk else split_words(run))
        return tokens


@register_tokenizer("char")
class CharTokenizer(Tokenizer):
    """Every CJK character a token; other text split into English-aware words."""

    def split(self, normalized: str) -> list[str]:
        tokens: list[str] = []
        for cjk, run in split_runs(normalized):
            tokens.extend(list(run) if cjk else split_words(run))
        return tokens


def build_tokenizer(config: TokenizerConfig, model_dir: str | Path | None = None) -> Tokenizer:
    """The tokenizer named by ``config.type``; ``model_dir`` holds a trained model or user dictionary if any."""
    return TOKENIZERS.get(config.type)(config, model_dir)

