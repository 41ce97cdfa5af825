"""Atomic file writes: write to a temporary file beside the target, then rename over it; and whole folders
written beside their target, then swapped in.

A crash at any moment leaves either the old file or the new one, never a half-written file. Files and
folders get the permissions the user's umask gives newly created ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once: os.umask can only be read by setting it, which is not thread-safe


@contextlib.contextmanager
def replaced_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A new, empty folder beside ``path`` to write into; on success it takes the place of ``path`` (whose old
    contents are then removed), on failure it is removed and ``path`` is left as it was."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    os.chmod(fresh, 0o777 & ~UMASK)
    try:
        yield fresh
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(fresh, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it is flushed, synced and renamed to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    binary = "b" in mode
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes it private; the file gets what any new file would
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` to ``path`` as UTF-8."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Atomically write ``data`` to ``path`` as indented UTF-8 JSON."""
    write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def write_weights(model: Any, path: str | os.PathLike) -> None:
    """Atomically save a Keras model's weights to ``path`` (a ``.weights.h5`` name): Keras writes the file in
    place, so it writes a temporary one beside it, then renames it."""
    target = Path(path)
    temporary = target.with_name(f".tmp.{target.name}")
    model.save_weights(temporary)
    os.replace(temporary, target)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
