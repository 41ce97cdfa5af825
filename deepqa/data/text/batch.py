"""Tokenize many texts at once, in several processes when the corpus is large enough to pay off."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from deepqa.config import TokenizerConfig
from deepqa.data.text.tokenizers import Tokenizer, build_tokenizer

# Below this many texts, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 40_000
CHUNK_SIZE = 2_000
_worker_tokenizer: Tokenizer | None = None


def _init_worker(config: TokenizerConfig, model_dir: str | None) -> None:
    global _worker_tokenizer
    _worker_tokenizer = build_tokenizer(config, model_dir)


def _split_chunk(texts: Sequence[str]) -> list[list[str]]:
    return [_worker_tokenizer.split(text) for text in texts]


def choose_workers(configured: int, text_count: int, tokenizer: Tokenizer) -> int:
    """``configured`` if set, else all CPUs (at most 8) for a large corpus and a slow tokenizer, else 1."""
    if configured:
        return configured
    if text_count < PARALLEL_THRESHOLD or not tokenizer.slow_split:
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def split_texts(tokenizer: Tokenizer, normalized: Sequence[str], model_dir: str | Path | None = None,
                workers: int = 0, description: str = "tokenizing") -> list[list[str]]:
    """Tokens of each already-normalized text, in order, with a progress bar."""
    workers = choose_workers(workers, len(normalized), tokenizer)
    progress = tqdm(total=len(normalized), desc=description, unit=" texts", disable=None, leave=False)
    if workers == 1:
        result = []
        for text in normalized:
            result.append(tokenizer.split(text))
            progress.update()
        progress.close()
        return result
    chunks = [normalized[start:start + CHUNK_SIZE] for start in range(0, len(normalized), CHUNK_SIZE)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    result = []
    with context.Pool(workers, initializer=_init_worker,
                      initargs=(tokenizer.config, str(model_dir) if model_dir else None)) as pool:
        for tokens in pool.imap(_split_chunk, chunks):
            result.extend(tokens)
            progress.update(len(tokens))
    progress.close()
    return result
