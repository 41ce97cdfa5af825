"""The vocabulary: word2id / id2word with fixed special ids, encode / decode, JSON save / load.

Contract: ``<pad>`` = 0, ``<go>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3. Every token outside the
vocabulary encodes to ``<unk>``, and every id that is negative or not below the vocabulary size
decodes to ``<unk>``, so no id can ever index outside an embedding table.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from deepqa import atomic
from deepqa.errors import DatasetError

PAD, GO, EOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<go>", "<eos>", "<unk>")
FORMAT_VERSION = 1


class Vocabulary:
    """A bijection between tokens and ids whose first four entries are the special tokens."""

    def __init__(self, id2word: Sequence[str]):
        if tuple(id2word[:4]) != SPECIAL_TOKENS:
            raise DatasetError(f"a vocabulary must start with {', '.join(SPECIAL_TOKENS)}")
        self.id2word = list(id2word)
        self.word2id = {word: index for index, word in enumerate(self.id2word)}
        if len(self.word2id) != len(self.id2word):
            raise DatasetError("a vocabulary must not list a token twice")

    @classmethod
    def build(cls, counts: Counter, min_count: int = 1, max_size: int | None = None) -> "Vocabulary":
        """The most frequent tokens seen at least ``min_count`` times, at most ``max_size`` entries in all.

        Ties are broken by the token itself, so the same counts always give the same ids.
        """
        ranked = sorted((item for item in counts.items() if item[1] >= min_count and item[0] not in SPECIAL_TOKENS),
                        key=lambda item: (-item[1], item[0]))
        room = None if max_size is None else max(0, max_size - len(SPECIAL_TOKENS))
        return cls(list(SPECIAL_TOKENS) + [token for token, _ in ranked[:room]])

    def __len__(self) -> int:
        return len(self.id2word)

    def __contains__(self, token: str) -> bool:
        return token in self.word2id

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids as int32; unknown tokens become ``<unk>``."""
        get = self.word2id.get
        return np.fromiter((get(token, UNK) for token in tokens), dtype=np.int32)

    def decode(self, ids: Iterable[int], skip_special: bool = True, unknown_words: Sequence[str] = ()) -> list[str]:
        """Tokens of ``ids``; stops at ``<eos>`` and drops ``<pad>``/``<go>`` when ``skip_special``. The k-th
        ``<unk>`` id becomes the k-th of ``unknown_words`` (the word it stands for) where there is one."""
        tokens = []
        size = len(self.id2word)
        words = iter(unknown_words)
        for raw in ids:
            index = int(raw)
            if skip_special:
                if index == EOS:
                    break
                if index in (PAD, GO):
                    continue
            if index == UNK:
                tokens.append(next(words, self.id2word[UNK]))
            else:
                tokens.append(self.id2word[index] if 0 <= index < size else self.id2word[UNK])
        return tokens

    def coverage(self, counts: Counter) -> float:
        """Share of the token occurrences in ``counts`` that have their own id (not ``<unk>``)."""
        total = sum(counts.values())
        covered = sum(count for token, count in counts.items() if token in self.word2id)
        return covered / total if total else 1.0

    @property
    def fingerprint(self) -> str:
        """A short hash of the token list; samples record it so that mismatched files are caught."""
        return hashlib.sha256("\n".join(self.id2word).encode("utf-8")).hexdigest()[:16]

    def save(self, path: str | os.PathLike, **extra) -> None:
        """Atomically write ``{"id2word": [...], "word2id": {...}}`` (plus ``extra`` fields) as JSON."""
        atomic.write_json(path, {"format_version": FORMAT_VERSION, "size": len(self), "fingerprint": self.fingerprint,
                                 **extra, "id2word": self.id2word, "word2id": self.word2id})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save`."""
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            vocabulary = cls(data["id2word"])
        except FileNotFoundError:
            raise DatasetError(f"vocabulary file {str(path)!r} does not exist; run `deepqa prepare` first") from None
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise DatasetError(f"vocabulary file {str(path)!r} is not a deepqa vocabulary: {exc}") from None
        if data.get("word2id") not in (None, vocabulary.word2id):
            raise DatasetError(f"vocabulary file {str(path)!r}: word2id and id2word disagree")
        return vocabulary
