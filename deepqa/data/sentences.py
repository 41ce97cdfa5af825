"""Answers cut by the length limit: back to their last whole sentence, or not replies at all.

``samples.max_answer_length`` cuts long answers mid-sentence ("... that's for"); such a fragment makes a poor
reply. An answer that fills the limit is cut back to its last sentence end; one with no sentence end cannot be
mended.
"""

from collections.abc import Sequence

import numpy as np

SENTENCE_ENDS = ".!?。！？…"


def sentence_end_flags(words: Sequence[str]) -> np.ndarray:
    """One flag per vocabulary id: whether that token ends a sentence (it ends with a stop mark)."""
    return np.array([bool(word) and word[-1] in SENTENCE_ENDS for word in words], dtype=bool)


def whole_sentences(ids: np.ndarray, limit: int, ends: np.ndarray) -> np.ndarray | None:
    """``ids`` if the length limit did not cut it (shorter than ``limit``, or ending a sentence); else its ids
    up to and including the last sentence end, or None when it has none."""
    ids = np.asarray(ids)
    if len(ids) < limit or ends[ids[-1]]:
        return ids
    stops = np.flatnonzero(ends[ids])
    return ids[: stops[-1] + 1] if len(stops) else None


def mended_rows(rows: Sequence[np.ndarray], limit: int, ends: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(position, row) of every row cut back to whole sentences, those that cannot be mended left out; every row
    as it is when none can be (a corpus without stop marks)."""
    mended = [(position, whole) for position, row in enumerate(rows)
              if (whole := whole_sentences(row, limit, ends)) is not None]
    return mended or list(enumerate(rows))
