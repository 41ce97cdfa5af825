"""Pretrained word vectors: read a word2vec file (text or binary) into a model's embedding tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepqa.errors import ConfigError
from deepqa.data.vocab import Vocabulary


def _read_text(path: Path, wanted: dict[str, int], dim: int, matrix: np.ndarray) -> int:
    found = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the optional "count dim" header
            if len(parts) != dim + 1:
                raise ConfigError(f"{path}:{number}: a vector of {len(parts) - 1} values; "
                                  f"[model] embedding_dim is {dim}")
            if parts[0] in wanted:
                matrix[wanted[parts[0]]] = np.asarray(parts[1:], dtype=np.float32)
                found += 1
    return found


def _read_binary(path: Path, wanted: dict[str, int], dim: int, matrix: np.ndarray) -> int:
    found = 0
    with open(path, "rb") as handle:
        count, file_dim = (int(x) for x in handle.readline().split())
        if file_dim != dim:
            raise ConfigError(f"{path}: vectors of {file_dim} values; [model] embedding_dim is {dim}")
        for _ in range(count):
            word = bytearray()
            while (char := handle.read(1)) not in (b" ", b""):
                if char != b"\n":
                    word += char
            vector = np.frombuffer(handle.read(4 * dim), dtype=np.float32)
            token = word.decode("utf-8", errors="replace")
            if token in wanted and len(vector) == dim:
                matrix[wanted[token]] = vector
                found += 1
    return found


def load_pretrained_embeddings(path: str, vocabulary: Vocabulary, tables: list) -> int:
    """Overwrite the rows of ``tables`` for every vocabulary word the word2vec file has; returns how many."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"[model] pretrained_embeddings {path!r} is not a file")
    dim = int(tables[0].shape[1])
    matrix = np.array(tables[0].numpy())
    wanted = {word: index for index, word in enumerate(vocabulary.id2word)}
    try:
        reader = _read_binary if file.suffix == ".bin" else _read_text
        found = reader(file, wanted, dim, matrix)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"[model] pretrained_embeddings {path!r} is not a word2vec file: {exc}") from None
    for table in tables:
        table.assign(matrix)
    return found
