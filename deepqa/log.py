"""Messages of long-running work (training, the server) go through the standard ``logging`` module, under
the ``deepqa`` logger; the ``deepqa`` command shows them on standard error, one plain line each. What a
command produces (a dataset path, a run directory, a report) stays on standard output."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

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


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the fields a record carries in ``extra``
    (``request_id``, ``status``, ...)."""

    STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update({key: value for key, value in record.__dict__.items() if key not in self.STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def show_messages(level: int = logging.INFO, json_lines: bool = False) -> None:
    """Print deepqa's messages (and waitress') on standard error, as plain lines or (``json_lines``) one JSON
    object per line; calling it again switches the format."""
    formatter = JsonLineFormatter() if json_lines else logging.Formatter("%(message)s")
    for name in (ROOT, "waitress"):
        logger = logging.getLogger(name)
        handler = next((h for h in logger.handlers if getattr(h, "deepqa", False)), None)
        if handler is None:
            handler = logging.StreamHandler(sys.stderr)
            handler.deepqa = True
            logger.addHandler(handler)
        handler.setFormatter(formatter)
        logger.setLevel(level)
        logger.propagate = False
