"""Run directories: self-contained bundles of a trained chatbot.

``save/<host>.<YYYYmmdd-HHMMSS>/`` (or ``save/<run-name>/``) holds the effective ``config.ini``, the
vocabulary and tokenizer files of its dataset, ``dataset.json`` (where the data came from),
``best.weights.h5`` (lowest validation loss), ``last.weights.h5``, ``metrics.json``, the TensorBoard
``logs/`` and the ``resume/`` state. ``save/latest`` points to the newest run.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from deepqa import atomic
from deepqa.config import Config
from deepqa.data.dataset import Dataset
from deepqa.errors import DatasetError
from deepqa.files import CONFIG_FILE, DATASET_FILE, LATEST, TOKENIZER_FILES, VOCAB_FILE



def default_run_name() -> str:
    """``<host>.<YYYYmmdd-HHMMSS>``."""
    return f"{socket.gethostname()}.{time.strftime('%Y%m%d-%H%M%S')}"


def create_run(config: Config, dataset: Dataset, run_name: str | None = None) -> Path:
    """A new run directory holding the config and everything of the dataset a bundle needs."""
    run_dir = Path(config.train.save_dir) / (run_name or default_run_name())
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_dir.mkdir()  # checks and creates in one step: of two trainings with one name, one goes ahead
    except FileExistsError:
        raise DatasetError(f"run directory {str(run_dir)!r} exists already; choose another --run-name "
                           f"or continue it with --resume {run_dir}") from None
    for name in (VOCAB_FILE, *TOKENIZER_FILES):
        if (dataset.path / name).is_file():
            shutil.copyfile(dataset.path / name, run_dir / name)
    config.save(run_dir / CONFIG_FILE)
    atomic.write_json(run_dir / DATASET_FILE, {"path": str(dataset.path.resolve()),
                                               "fingerprint": dataset.vocabulary.fingerprint,
                                               "samples": len(dataset.samples)})
    return run_dir


def update_latest(run_dir: Path) -> None:
    """Point ``<save_dir>/latest`` at ``run_dir``, replacing the old link in one rename."""
    link = run_dir.parent / LATEST
    temporary = run_dir.parent / f".{LATEST}.{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(run_dir.name)
    os.replace(temporary, link)

