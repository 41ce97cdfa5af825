"""Training samples: ragged (encoder ids, decoder ids) pairs with their split, saved as ``samples.npz``.

Encoder ids are the question (with any context turns before it, each followed by ``<eos>``);
decoder ids are the answer alone: training adds ``<go>`` in front for the decoder input and
``<eos>`` at the end for the targets. Ids are stored flat with offsets, so the file holds no
padding and loads without pickle. The words behind each answer's ``<unk>`` ids are kept too
(:mod:`deepqa.data.unknown_words`), so that a retrieved answer can show them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from deepqa import atomic
from deepqa.errors import DatasetError
from deepqa.data.flat import consistent_offsets, flatten
from deepqa.data.splits import SPLITS
from deepqa.data.unknown_words import WordList, checked, unknown_starts

FORMAT_VERSION = 1
UNKNOWN_WORDS = "answer_unknown_words"  # the arrays' name prefix in samples.npz


@dataclass
class Samples:
    """Question/answer id sequences with per-sample split, conversation and source indices, and the words behind
    the answers' ``<unk>`` ids (None in datasets made before they were kept)."""

    encoder_values: np.ndarray
    encoder_offsets: np.ndarray
    decoder_values: np.ndarray
    decoder_offsets: np.ndarray
    split: np.ndarray
    conversation: np.ndarray
    source: np.ndarray
    meta: dict = field(default_factory=dict)
    answer_unknown: WordList | None = None

    @classmethod
    def from_rows(cls, encoder: Sequence[np.ndarray], decoder: Sequence[np.ndarray], split: Sequence[int],
                  conversation: Sequence[int], source: Sequence[int], meta: dict | None = None,
                  answer_words: Sequence[Sequence[str]] | None = None) -> "Samples":
        """Build from one id array per question and per answer, and optionally the words behind each answer's
        ``<unk>`` ids."""
        encoder_values, encoder_offsets = flatten(encoder)
        decoder_values, decoder_offsets = flatten(decoder)
        unknown = None if answer_words is None else WordList.of(word for words in answer_words for word in words)
        return cls(encoder_values, encoder_offsets, decoder_values, decoder_offsets,
                   np.asarray(split, dtype=np.int8), np.asarray(conversation, dtype=np.int32),
                   np.asarray(source, dtype=np.int16), dict(meta or {}), unknown)

    def __len__(self) -> int:
        return len(self.split)

    def question(self, index: int) -> np.ndarray:
        """Encoder ids of sample ``index``."""
        return self.encoder_values[self.encoder_offsets[index]:self.encoder_offsets[index + 1]]

    def answer(self, index: int) -> np.ndarray:
        """Decoder ids (the answer, without ``<go>``/``<eos>``) of sample ``index``."""
        return self.decoder_values[self.decoder_offsets[index]:self.decoder_offsets[index + 1]]

    def answer_words(self, index: int) -> list[str] | None:
        """The words behind the ``<unk>`` ids of answer ``index``, in order; None where they were not kept."""
        if self.answer_unknown is None:
            return None
        starts = self._answer_unknown_starts
        return self.answer_unknown.words(int(starts[index]), int(starts[index + 1]))

    @cached_property
    def _answer_unknown_starts(self) -> np.ndarray:
        return unknown_starts(self.decoder_values, self.decoder_offsets)

    @property
    def question_lengths(self) -> np.ndarray:
        return np.diff(self.encoder_offsets)

    @property
    def answer_lengths(self) -> np.ndarray:
        return np.diff(self.decoder_offsets)

    def select(self, indices: np.ndarray) -> "Samples":
        """A new Samples with the given rows, in the given order."""
        indices = np.asarray(indices, dtype=np.int64)
        words = None if self.answer_unknown is None else [self.answer_words(i) for i in indices]
        return Samples.from_rows([self.question(i) for i in indices], [self.answer(i) for i in indices],
                                 self.split[indices], self.conversation[indices], self.source[indices], self.meta,
                                 words)

    def of_split(self, name: str) -> "Samples":
        """The samples of split ``train``, ``valid`` or ``test``."""
        return self.select(np.flatnonzero(self.split == SPLITS.index(name)))

    def save(self, path: str | os.PathLike) -> None:
        """Atomically write ``samples.npz`` (compressed, no pickled objects)."""
        with atomic.atomic_open(path, "wb") as handle:
            np.savez_compressed(handle, encoder_values=self.encoder_values, encoder_offsets=self.encoder_offsets,
                                decoder_values=self.decoder_values, decoder_offsets=self.decoder_offsets,
                                split=self.split, conversation=self.conversation, source=self.source,
                                meta=np.array(json.dumps({"format_version": FORMAT_VERSION, **self.meta})),
                                **(self.answer_unknown.arrays(UNKNOWN_WORDS) if self.answer_unknown else {}))

    @classmethod
    def load(cls, path: str | os.PathLike, vocab_size: int | None = None) -> "Samples":
        """Read ``samples.npz``; with ``vocab_size``, check every id is in [0, vocab_size)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except FileNotFoundError:
            raise DatasetError(f"samples file {str(path)!r} does not exist; run `deepqa prepare` first") from None
        except (OSError, ValueError) as exc:
            raise DatasetError(f"samples file {str(path)!r} is not a deepqa samples file: {exc}") from None
        try:
            meta = json.loads(str(arrays.pop("meta")))
            unknown = WordList.from_arrays(arrays, UNKNOWN_WORDS)
            samples = cls(**arrays, meta=meta, answer_unknown=unknown)
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"samples file {str(path)!r} lacks a field: {exc}") from None
        samples._check(str(path), vocab_size)
        return samples

    def _check(self, where: str, vocab_size: int | None) -> None:
        count = len(self.split)
        for name in ("encoder", "decoder"):
            offsets, values = getattr(self, f"{name}_offsets"), getattr(self, f"{name}_values")
            if not consistent_offsets(offsets, len(values), count):
                raise DatasetError(f"samples file {where!r}: {name} offsets are inconsistent")
            if vocab_size is not None and len(values) and (values.min() < 0 or values.max() >= vocab_size):
                raise DatasetError(f"samples file {where!r}: {name} ids fall outside the vocabulary of {vocab_size}")
        if len(self.conversation) != count or len(self.source) != count:
            raise DatasetError(f"samples file {where!r}: per-sample arrays differ in length")
        problem = checked(self.answer_unknown, self.decoder_values, f"samples file {where!r}")
        if problem:
            raise DatasetError(problem)
