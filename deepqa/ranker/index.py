"""The index of training answers: each distinct answer once, with its response-tower vector; exact search
by one matrix product (numpy), fine to a few hundred thousand answers, or an approximate search graph
attached for larger indexes (:mod:`deepqa.ranker.approximate`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from deepqa import atomic
from deepqa.data.flat import flatten
from deepqa.data.unknown_words import WordList, checked, unknown_starts
from deepqa.data.vocab import UNK
from deepqa.errors import DatasetError
from deepqa.inference.decoding import pad_rows
from deepqa.log import get_logger
from deepqa.ranker.approximate import ApproximateSearch, hnswlib_installed

LOG = get_logger(__name__)
UNKNOWN_WORDS = "unknown_words"  # the arrays' name prefix in the index file


def encode_rows(encode, rows: list[np.ndarray], batch_size: int = 256, projection: np.ndarray | None = None
                ) -> np.ndarray:
    """The vectors [N, dim] that ``encode`` (padded ids [B, T] → vectors [B, dim], such as a ranker tower) gives
    id rows of any length, a batch at a time; with ``projection`` [dim, k], their projections [N, k]."""
    chunks = []
    for start in range(0, len(rows), batch_size):
        vectors = np.asarray(encode(pad_rows(rows[start:start + batch_size])), dtype=np.float32)
        chunks.append(vectors if projection is None else vectors @ projection)
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


@dataclass
class ResponseIndex:
    """Distinct answers as ids (flattened with offsets), their unit vectors [N, dim], the inverse document
    frequency of each token id on the training split (empty in indexes made before it was kept), the
    share of unknown words that 9 in 10 training contexts do not exceed (what is usual for this vocabulary),
    and the words behind the answers' ``<unk>`` ids (None in indexes made before they were kept, which
    hold no answer with ``<unk>``)."""

    values: np.ndarray
    offsets: np.ndarray
    vectors: np.ndarray
    idf: np.ndarray
    unknown_share: float = 0.0
    unknown: WordList | None = None
    approximate: ApproximateSearch | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def answer(self, index: int) -> np.ndarray:
        """The ids of answer ``index``."""
        return self.values[self.offsets[index]:self.offsets[index + 1]]

    def answer_words(self, index: int) -> list[str]:
        """The words behind the ``<unk>`` ids of answer ``index``, in order."""
        if self.unknown is None:
            return []
        starts = self._unknown_starts
        return self.unknown.words(int(starts[index]), int(starts[index + 1]))

    @cached_property
    def _unknown_starts(self) -> np.ndarray:
        return unknown_starts(self.values, self.offsets)

    @classmethod
    def build(cls, answers: list[np.ndarray], encode, idf: np.ndarray, batch_size: int = 512,
              limit: int = 0, unknown_share: float = 0.0,
              answer_words: Sequence[Sequence[str]] | None = None) -> "ResponseIndex":
        """Index the distinct ``answers`` (the most frequent first, at most ``limit``), encoded in batches by
        ``encode`` (padded ids [B, T] → vectors [B, dim]). ``answer_words``: the words behind each answer's
        ``<unk>`` ids, kept to be shown in replies; without them, answers with a word outside the vocabulary
        are left out, since a reply could not show it."""
        counts: dict[bytes, int] = {}
        first: dict[bytes, tuple[np.ndarray, Sequence[str]]] = {}
        for position, answer in enumerate(answers):
            words = answer_words[position] if answer_words is not None else ()
            if len(words) != np.count_nonzero(answer == UNK):
                continue
            key = answer.astype(np.int32).tobytes() + "\n".join(words).encode("utf-8")
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, (answer, words))
        keys = sorted(counts, key=lambda key: -counts[key])[:limit or None]
        rows = [first[key][0].astype(np.int32) for key in keys]
        values, offsets = flatten(rows)
        unknown = WordList.of(word for key in keys for word in first[key][1])
        return cls(values, offsets, encode_rows(encode, rows, batch_size) if rows else np.zeros((0, 1), np.float32),
                   idf, unknown_share, unknown)

    def search_approximately_above(self, size: int, graph_path: Path) -> bool:
        """Search an approximate graph (kept at ``graph_path``) when the index holds more than ``size`` answers
        (0: never) and hnswlib is installed; whether it does."""
        if not size or len(self) <= size:
            return False
        if not hnswlib_installed():
            LOG.warning(f"the index holds {len(self):,} answers, more than [ranker] approximate_above = {size:,}, "
                        f"but hnswlib is not installed (pip install 'deepqa[approximate]'): searching exactly")
            return False
        self.approximate = ApproximateSearch.for_index(self.vectors, Path(graph_path))
        return True

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best answers of each query vector [B, dim]: indices [B, k] and cosine scores [B, k], best first."""
        k = min(k, len(self))
        if self.approximate is not None:
            return self.approximate.search(queries, k)
        scores = queries.astype(np.float32) @ self.vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        picked = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-picked, axis=1)
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(picked, order, axis=1)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index as one ``.npz`` file, atomically."""
        with atomic.atomic_open(path, "wb") as handle:
            np.savez(handle, values=self.values, offsets=self.offsets, vectors=self.vectors, idf=self.idf,
                     unknown_share=np.float32(self.unknown_share),
                     **(self.unknown.arrays(UNKNOWN_WORDS) if self.unknown is not None else {}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ResponseIndex":
        """Read an index written by :meth:`save` (plain arrays, no pickle)."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        idf = arrays.get("idf", np.zeros(0, np.float32))
        share = float(arrays["unknown_share"]) if "unknown_share" in arrays else 0.0
        unknown = WordList.from_arrays(arrays, UNKNOWN_WORDS)
        problem = checked(unknown, arrays["values"], f"index {str(path)!r}")
        if problem:
            raise DatasetError(f"{problem}: train the ranker again (`deepqa train --only ranker --resume RUN`)")
        return cls(arrays["values"], arrays["offsets"], arrays["vectors"], idf, share, unknown)
