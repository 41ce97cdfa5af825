"""Shared test helpers: a config built from overrides, and the shared real corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepqa.config import load_config
from tests.services import PostgresServer, RedisServer, free_ports  # noqa: F401 (free_ports: shared by the tests)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(os.environ.get("DEEPQA_SHARED_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"))


def make_config(*overrides: str, path: str | Path | None = None, profile: str | None = None):
    """The project's config.ini (or ``path``) with ``section.key=value`` overrides applied."""
    return load_config(path or PROJECT_ROOT / "config.ini", profile, overrides)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real corpora; tests that need it skip with a reason when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real corpora not found at {SHARED_DATASETS} (set DEEPQA_SHARED_DATASETS)")
    return SHARED_DATASETS


TINY_MODEL = ("model.embedding_dim=8", "lstm.units=8", "lstm.layers=1", "transformer.heads=2",
              "transformer.feedforward_dim=8", "transformer.encoder_layers=1", "transformer.decoder_layers=1",
              "train.batch_size=8", "train.epochs=1", "train.probe_questions=hello|how are you?")


WORDS = ["red", "green", "blue", "cat", "dog", "bird", "sun", "moon", "tree", "fish"]
# 24 made-up pairs a tiny model can learn by heart.
MEMORY_PAIRS = [(f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} {i}", f"{WORDS[(i * 7) % 10]} {i} {WORDS[i % 10]}")
                for i in range(24)]


def training_config(tmp_path: Path, *overrides: str):
    """The tiny model's config, saving runs under ``tmp_path/save``."""
    return make_config(*TINY_MODEL, f"train.save_dir={tmp_path / 'save'}", *overrides)


@pytest.fixture
def memory_data(tmp_path) -> Path:
    """The memory pairs, prepared with a validation split."""
    return prepare_pairs(tmp_path / "corpus", MEMORY_PAIRS, "samples.valid_fraction=0.15", "samples.test_fraction=0")


def prepare_pairs(folder: Path, pairs, *overrides: str):
    """Write ``pairs`` as a tab-separated corpus, prepare it into ``folder/data`` and return that path."""
    from deepqa.data.prepare import prepare

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "pairs.tsv"
    corpus.write_text("".join(f"{q}\t{a}\n" for q, a in pairs), encoding="utf-8")
    config = make_config("corpus.format=pairs", f"corpus.path={corpus}", *overrides)
    prepare(config, folder / "data")
    return folder / "data"


# 60 made-up questions and answers for the shared tiny run.
QA_PAIRS = [(f"question {i} about {i % 5}?", f"answer {i % 7} for {i}.") for i in range(60)]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny model trained for two epochs on ``QA_PAIRS`` (with validation and test splits), shared by the
    tests of chat, evaluation and serving; its decoding is not compiled with XLA."""
    from deepqa.train.setup import new_training

    folder = tmp_path_factory.mktemp("tiny-run")
    data = prepare_pairs(folder / "corpus", QA_PAIRS, "samples.valid_fraction=0.2", "samples.test_fraction=0.3")
    config = make_config(*TINY_MODEL, f"train.save_dir={folder / 'save'}", "train.epochs=2", "decode.xla=false")
    trainer = new_training(config, str(data), "tiny")
    trainer.fit()
    return trainer.run_dir


@pytest.fixture(autouse=True)
def _float32_policy_after_each_test():
    """A test that trains with mixed precision must not leave it on for the next test."""
    yield
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].config.set_dtype_policy("float32")


def _running(service):
    """The URL of a running ``service`` (skipped with its reason where it cannot run), stopped afterwards."""
    reason = service.missing_reason()
    if reason:
        pytest.skip(reason)
    with service() as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this test session."""
    yield from _running(PostgresServer)


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis server for this test session."""
    yield from _running(RedisServer)
