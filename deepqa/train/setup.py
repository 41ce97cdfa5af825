"""Setting up a training run: a new run from a dataset, or a resumed one from its run directory."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Sequence

from deepqa.config import Config, load_config, parse_assignment
from deepqa.data.dataset import Dataset
from deepqa.errors import ConfigError, DatasetError
from deepqa.settings import BUILD
from deepqa.files import CONFIG_FILE, DATASET_FILE, resolve_run
from deepqa.train.run_bundle import create_run, update_latest
from deepqa.train.training import Trainer, is_chief
from deepqa.data.vocab import Vocabulary

# The sections that describe the data: a run takes them from its dataset, never from the command line.
DATA_SECTIONS = ("corpus", "tokenizer", "vocab", "samples")
# Build-time sections that a resumed run may still change: how it trains and searches, not what it is.
RESUMABLE_SECTIONS = ("train", "tuner", "ranker")


def load_dataset(config: Config, data_dir: str | None) -> Dataset:
    """The prepared dataset of ``--data`` or ``[corpus] dataset_dir``, with a clear error if it is missing."""
    path = Path(data_dir or config.corpus.dataset_dir)
    if not path.is_dir():
        raise DatasetError(f"no dataset at {str(path)!r}: run `deepqa prepare --out {path}` first, or pass --data DIR")
    return Dataset.load(path)


def adopt_dataset(config: Config, data_dir: str | None = None, overrides: Sequence[str] = ()) -> Dataset:
    """Load the dataset and take its data sections into ``config``: they describe how it was made. An override
    of a data setting that the dataset does not have is refused: it could only be dropped silently."""
    dataset = load_dataset(config, data_dir)
    for override in overrides:
        item = parse_assignment(override)
        if item.section in DATA_SECTIONS or item.section.startswith("source:"):
            wanted = getattr(config.section(item.section), item.key)
            made = getattr(dataset.config.section(item.section), item.key, None) \
                if not item.section.startswith("source:") or item.section[7:] in dataset.config.sources else None
            if wanted != made:
                raise ConfigError(f"--set {override} cannot apply: the dataset at {dataset.path} was prepared with "
                                  f"[{item.section}] {item.key} = {made}; prepare a new one with `deepqa prepare "
                                  f"--set {override.strip()} --out DIR` and train on it with --data DIR")
    for section in DATA_SECTIONS:
        setattr(config, section, getattr(dataset.config, section))
    config.sources = dataset.config.sources
    return dataset


def new_training(config: Config, data_dir: str | None = None, run_name: str | None = None,
                 overrides: Sequence[str] = ()) -> Trainer:
    """A trainer for a fresh run directory, its data settings taken from the dataset."""
    dataset = adopt_dataset(config, data_dir, overrides)
    if is_chief():
        run_dir = create_run(config, dataset, run_name)
        update_latest(run_dir)
    else:  # another worker writes the bundle; this one keeps its own scratch files apart
        run_dir = Path(tempfile.mkdtemp(prefix="deepqa-worker-"))
    return Trainer(config, dataset, run_dir)


def ranker_training(run: str, overrides: list[str], data_dir: str | None = None) -> tuple[Config, Dataset, Path]:
    """The config, dataset and directory for training the ranker of an existing run; only [ranker] may be
    overridden, and the run's config records the ranker's settings once they are checked."""
    run_dir = resolve_run(run)
    for override in overrides:
        if parse_assignment(override).section != "ranker":
            raise ConfigError(f"--only ranker: --set {override} names another section than [ranker]")
    config = load_config(run_dir / CONFIG_FILE, None, overrides)
    config.ranker = config.ranker.replace(enabled=True)
    dataset = _recorded_dataset(run_dir, data_dir)
    config.save(run_dir / CONFIG_FILE)
    return config, dataset, run_dir


def _recorded_dataset(run_dir: Path, data_dir: str | None) -> Dataset:
    """The dataset a run was trained on (or ``data_dir``), checked to have the run's vocabulary."""
    recorded = json.loads((run_dir / DATASET_FILE).read_text(encoding="utf-8"))
    dataset = Dataset.load(data_dir or recorded["path"])
    if dataset.vocabulary.fingerprint != Vocabulary.load(run_dir / "vocab.json").fingerprint:
        raise DatasetError(f"the dataset at {dataset.path} is not the one run {run_dir.name} was trained on")
    return dataset


def resumed_training(run: str, overrides: list[str], data_dir: str | None = None) -> Trainer:
    """A trainer that continues ``run`` after its last completed epoch; only [train] may be overridden."""
    run_dir = resolve_run(run)
    saved = load_config(run_dir / CONFIG_FILE)
    config = load_config(run_dir / CONFIG_FILE, None, overrides)
    for section in config.section_names(BUILD):
        if section not in RESUMABLE_SECTIONS and config.section(section) != saved.section(section):
            raise ConfigError(f"--resume cannot change [{section}]: the run's weights were made with its saved "
                              "settings; start a new run instead")
    dataset = _recorded_dataset(run_dir, data_dir)
    config.save(run_dir / CONFIG_FILE)
    return Trainer(config, dataset, run_dir, resume=True)
