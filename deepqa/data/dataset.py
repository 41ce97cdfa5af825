"""A prepared dataset folder, loaded and checked as one unit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from deepqa.config import Config, load_config
from deepqa.errors import DatasetError
from deepqa.files import CONFIG_FILE, SAMPLES_FILE, STATS_FILE, VOCAB_FILE
from deepqa.data.samples import Samples
from deepqa.data.text import Tokenizer, build_tokenizer
from deepqa.data.vocab import Vocabulary


@dataclass
class Dataset:
    """The vocabulary, samples, tokenizer, effective config and stats of one dataset folder."""

    path: Path
    config: Config
    vocabulary: Vocabulary
    samples: Samples
    tokenizer: Tokenizer
    stats: dict

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        """Load a folder written by ``deepqa prepare``; vocabulary and samples must belong together."""
        folder = Path(path)
        if not folder.is_dir():
            raise DatasetError(f"dataset folder {str(folder)!r} does not exist; run `deepqa prepare --out {folder}`")
        config = load_config(folder / CONFIG_FILE)
        vocabulary = Vocabulary.load(folder / VOCAB_FILE)
        samples = Samples.load(folder / SAMPLES_FILE, vocab_size=len(vocabulary))
        if samples.meta.get("fingerprint") != vocabulary.fingerprint:
            raise DatasetError(f"dataset {str(folder)!r}: {SAMPLES_FILE} was not made with this {VOCAB_FILE}; "
                               "run `deepqa prepare` again")
        try:
            stats = json.loads((folder / STATS_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            stats = {}
        return cls(folder, config, vocabulary, samples, build_tokenizer(config.tokenizer, folder), stats)
