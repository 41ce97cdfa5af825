"""Messages of long-running work (training, the server) go through the standard ``logging`` module, under
the ``deepqa`` logger; the ``deepqa`` command shows them on standard error, one plain line each. What a
command produces (a dataset path, a run directory, a report) stays on standard output."""

from __future__ import annotations

import logging
import os
import sys

ROOT = "deepqa"


def get_logger(name: str) -> logging.Logger:
    """The logger of a module (``deepqa.train.training`` → ``deepqa.train.training``); ``serve.*`` modules log
    under ``deepqa.serve``."""
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


def quiet_tensorflow() -> None:
    """Import TensorFlow without the lines it writes straight to standard error while it looks for CUDA (on a
    machine without a GPU they are noise), and keep its C++ errors for when it has something to say. Errors
    that matter surface as Python exceptions."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def show_messages(level: int = logging.INFO) -> None:
    """Print deepqa's messages (and waitress') on standard error as plain lines; safe to call twice."""
    for name in (ROOT, "waitress"):
        logger = logging.getLogger(name)
        if not any(getattr(handler, "deepqa", False) for handler in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.deepqa = True
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
