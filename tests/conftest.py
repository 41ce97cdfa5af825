"""Shared test helpers: a config built from overrides, and the shared real corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepqa.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(os.environ.get("DEEPQA_SHARED_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"))


def make_config(*overrides: str, path: str | Path | None = None, profile: str | None = None):
    """The project's config.ini (or ``path``) with ``section.key=value`` overrides applied."""
    return load_config(path or PROJECT_ROOT / "config.ini", profile, overrides)


@pytest.fixture
def shared_datasets() -> Path:
    """The folder of real corpora; tests that need it skip with a reason when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real corpora not found at {SHARED_DATASETS} (set DEEPQA_SHARED_DATASETS)")
    return SHARED_DATASETS
