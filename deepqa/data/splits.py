"""Deterministic train / valid / test assignment by conversation.

A conversation's split depends only on its text and the seed, never on the order of the corpus or
the process, so re-running ``prepare`` (or adding other conversations) never moves it. A two-turn
conversation is keyed by its question alone, so a question with several answers keeps all of them
in one split and never leaks from train into valid or test.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

SPLITS = ("train", "valid", "test")
TRAIN, VALID, TEST = 0, 1, 2


def split_key(normalized_turns: Sequence[str]) -> str:
    """The text that decides a conversation's split."""
    if len(normalized_turns) == 2:
        return normalized_turns[0]
    return "\x1e".join(normalized_turns)


def assign_split(key: str, valid_fraction: float, test_fraction: float, seed: int) -> int:
    """TRAIN, VALID or TEST for ``key``: a uniform hash in [0, 1) compared with the fractions."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode("utf-8"), digest_size=8).digest()
    position = int.from_bytes(digest, "big") / 2**64
    if position < valid_fraction:
        return VALID
    if position < valid_fraction + test_fraction:
        return TEST
    return TRAIN
