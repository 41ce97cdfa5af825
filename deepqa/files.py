"""On-disk names of the files in a dataset folder and in a run bundle.

Kept apart from the modules that write them, so that loading a trained bot imports these names
without pulling in the corpus readers or the training loop.
"""

from __future__ import annotations

from pathlib import Path

from deepqa.errors import DatasetError

# A dataset folder (written by ``deepqa prepare``) and, for the first five, a run bundle too.
CONFIG_FILE = "config.ini"
VOCAB_FILE = "vocab.json"
TOKENIZER_MODEL_FILE = "tokenizer.model"
USER_DICT_FILE = "jieba_userdict.txt"
TOKENIZER_FILES = (TOKENIZER_MODEL_FILE, USER_DICT_FILE)
SAMPLES_FILE = "samples.npz"
STATS_FILE = "stats.json"

# A run bundle (written by ``deepqa train``).
BEST_WEIGHTS = "best.weights.h5"
LAST_WEIGHTS = "last.weights.h5"
METRICS_FILE = "metrics.json"
DATASET_FILE = "dataset.json"
MODEL_FILE = "model.json"
RANKER_WEIGHTS = "ranker.weights.h5"
RANKER_FILE = "ranker.json"
RANKER_INDEX = "ranker_index.npz"
RANKER_GRAPH = "ranker_index.hnsw"  # the approximate search graph of a large index
LOGS_DIR = "logs"
RESUME_DIR = "resume"
RANKER_RESUME_DIR = "ranker_resume"
LATEST = "latest"


def resolve_run(path: str | Path) -> Path:
    """The run directory ``path`` names (``save/latest`` included), checked to be a run."""
    run_dir = Path(path).resolve()
    if not (run_dir / CONFIG_FILE).is_file() or not (run_dir / VOCAB_FILE).is_file():
        raise DatasetError(f"{str(path)!r} is not a deepqa run directory (no {CONFIG_FILE} and {VOCAB_FILE})")
    return run_dir
