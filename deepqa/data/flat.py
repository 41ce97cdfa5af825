"""Rows of different lengths stored flat: every row's values one after another, and offsets [rows + 1] where
each row starts (plain arrays that ``.npz`` files hold without padding or pickle)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def flatten(rows: Sequence[np.ndarray], dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    """The rows' values one after another (as ``dtype``) and their offsets [rows + 1]."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(row) for row in rows])
    values = np.concatenate(rows).astype(dtype) if len(rows) else np.zeros(0, dtype=dtype)
    return values, offsets


def consistent_offsets(offsets: np.ndarray, total: int, rows: int | None = None) -> bool:
    """Whether ``offsets`` cut ``total`` values into rows in order (and into ``rows`` rows, when given)."""
    return (len(offsets) >= 1 and (rows is None or len(offsets) == rows + 1) and offsets[0] == 0
            and offsets[-1] == total and not np.any(np.diff(offsets) < 0))
