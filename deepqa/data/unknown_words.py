"""The words behind ``<unk>``: the tokens outside the vocabulary that rows of ids stand for, kept beside the
ids so that an answer retrieved from the corpus shows the word the models read as ``<unk>`` (a name, a rare
word) instead of being left out of the replies. Stored flat as UTF-8 bytes with offsets (plain arrays, no
pickle); the k-th word belongs to the k-th ``<unk>`` of the rows' flat ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from deepqa.data.flat import consistent_offsets, flatten
from deepqa.data.vocab import UNK


@dataclass
class WordList:
    """Words as concatenated UTF-8 bytes [total bytes] and offsets [words + 1]."""

    data: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, words: Iterable[str]) -> "WordList":
        """The list of ``words``, in order."""
        return cls(*flatten([np.frombuffer(word.encode("utf-8"), dtype=np.uint8) for word in words], np.uint8))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def words(self, start: int, stop: int) -> list[str]:
        """Words ``start`` to ``stop`` (exclusive)."""
        data, offsets = self.data, self.offsets
        return [bytes(data[offsets[i]:offsets[i + 1]]).decode("utf-8") for i in range(start, stop)]

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The two arrays, named for an ``.npz`` file."""
        return {f"{prefix}_data": self.data, f"{prefix}_offsets": self.offsets}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> "WordList | None":
        """The list :meth:`arrays` wrote under ``prefix`` (removing them from ``arrays``), None when absent (files
        made before words were kept)."""
        if f"{prefix}_data" not in arrays:
            return None
        return cls(np.asarray(arrays.pop(f"{prefix}_data"), np.uint8),
                   np.asarray(arrays.pop(f"{prefix}_offsets"), np.int64))


def unknown_starts(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """For rows stored flat (``values`` cut at ``offsets``), how many ``<unk>`` come before each row [rows + 1]:
    row i's words in a :class:`WordList` are ``starts[i]`` to ``starts[i + 1]``."""
    before = np.concatenate([[0], np.cumsum(np.asarray(values) == UNK)]).astype(np.int64)
    return before[np.asarray(offsets, dtype=np.int64)]


def words_of(tokens: Sequence[str], ids: np.ndarray) -> list[str]:
    """The tokens of ``tokens`` that ``ids`` (their vocabulary ids) encode as ``<unk>``, in order."""
    return [token for token, index in zip(tokens, np.asarray(ids).tolist()) if index == UNK]


def checked(words: WordList | None, values: np.ndarray, where: str) -> str | None:
    """What is wrong with ``words`` as the words behind the ``<unk>`` of ``values``, or None when nothing is."""
    if words is None:
        return None
    if not consistent_offsets(words.offsets, len(words.data)):
        return f"{where}: the offsets of the unknown words are inconsistent"
    unknown = int(np.count_nonzero(np.asarray(values) == UNK))
    return f"{where}: {len(words)} unknown words for {unknown} <unk> ids" if len(words) != unknown else None
