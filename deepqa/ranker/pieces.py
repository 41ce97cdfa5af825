"""Pieces of the vocabulary's words for the bag-of-embeddings towers (``[ranker] word_pieces``): a word with
CJK characters is made of its characters (Chinese words that share a character often share meaning), any
other word of its character trigrams with boundary marks (``<wo wor ord rd>``, as fastText does), so that
rare words learn from the common words that share their pieces. The table is derived from the vocabulary
alone, so a bundle rebuilds it at load."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from deepqa.data.text.script import is_cjk
from deepqa.data.vocab import SPECIAL_TOKENS

MAX_PIECES = 8  # pieces kept per word: all of a Chinese word's characters, a long word's first trigrams


def pieces_of(word: str) -> list[str]:
    """The pieces of one word: its CJK characters, else its boundary-marked character trigrams."""
    if any(is_cjk(char) for char in word):
        return [char for char in word if not char.isspace()]
    marked = f"<{word}>"
    return [marked[i:i + 3] for i in range(len(marked) - 2)] if len(marked) > 3 else [marked]


def piece_table(words: Sequence[str]) -> np.ndarray:
    """Piece ids [V, MAX_PIECES] of each word (0 pads; the special tokens have none), numbered in order of
    first appearance, so the same vocabulary always gives the same table."""
    ids: dict[str, int] = {}
    table = np.zeros((len(words), MAX_PIECES), dtype=np.int32)
    for row, word in enumerate(words):
        if row < len(SPECIAL_TOKENS):
            continue
        pieces = [ids.setdefault(piece, len(ids) + 1) for piece in pieces_of(word)[:MAX_PIECES]]
        table[row, :len(pieces)] = pieces
    return table
