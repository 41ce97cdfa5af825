"""The reader registry, per-source read statistics and the file helpers every reader shares.

A reader is a function ``read(source: SourceConfig, stats: ReadStats) -> Iterator[list[str]]`` that
yields conversations, each a list of turns in order. Malformed lines or records are skipped and
counted in ``stats``; a missing or wholly unreadable file, or a wrong encoding, raises
:class:`~deepqa.errors.CorpusError` naming the file.
"""

from __future__ import annotations

import glob
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from deepqa.config import SourceConfig
from deepqa.errors import CorpusError
from deepqa.registry import CORPUS_FORMATS

Conversation = list[str]
Reader = Callable[[SourceConfig, "ReadStats"], Iterator[Conversation]]
MAX_EXAMPLES = 5


def register_reader(name: str, suffixes: tuple[str, ...] = ()):
    """Function decorator that makes a reader selectable as ``[corpus] format = name``.

    ``suffixes`` are the file name endings taken from a folder given as ``path``.
    """

    def decorate(function: Reader) -> Reader:
        function.suffixes = suffixes
        return CORPUS_FORMATS.register(name)(function)

    return decorate


@dataclass
class ReadStats:
    """What one source yielded and what it skipped, with the first few skipped places."""

    files: list[str] = field(default_factory=list)
    conversations: int = 0
    turns: int = 0
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        """Count one malformed line or record; remember the first few as ``file:line: why``."""
        self.skipped += 1
        if len(self.skipped_examples) < MAX_EXAMPLES:
            self.skipped_examples.append(f"{where}: {why}")


def package_folder(module: str, format_name: str, pip_name: str) -> Path:
    """The folder of an installed corpus package, or a clear error naming what to install."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise CorpusError(f"corpus format {format_name!r} needs the {pip_name} package: pip install {pip_name}")
    return Path(spec.origin).parent


def input_files(source: SourceConfig, reader_name: str) -> list[Path]:
    """The files named by ``source.path``: one file, every matching file of a folder, or a glob."""
    if not source.path:
        raise CorpusError(f"corpus format {reader_name!r} needs a path: set [corpus] path")
    path = Path(source.path).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        suffixes = CORPUS_FORMATS.get(reader_name).suffixes
        files = sorted(p for p in path.iterdir() if p.is_file() and (not suffixes or p.name.endswith(suffixes)))
        if not files:
            wanted = " or ".join(suffixes) if suffixes else "any"
            raise CorpusError(f"folder {str(path)!r} holds no {wanted} files for corpus format {reader_name!r}")
        return files
    matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
    if not matches:
        raise CorpusError(f"corpus path {str(path)!r} does not exist")
    return matches


def resolve_encoding(source: SourceConfig, default: str = "utf-8-sig") -> str:
    """The configured encoding, or the reader's default for ``auto``."""
    return default if source.encoding.lower() == "auto" else source.encoding


def read_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its CR/LF ending) of a text file.

    Lines are split on LF only, so CRLF, LF and stray characters that other tools treat as line
    breaks (NEL in ISO-8859-1 text, form feeds) are handled the way the corpora were written.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"corpus file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise CorpusError(f"corpus file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode(encoding)
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r} for {str(path)!r}; set [corpus] encoding") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CorpusError(
            f"corpus file {str(path)!r} is not valid {encoding} (line {line}, byte {exc.start}); "
            f"set [corpus] encoding to the file's encoding, e.g. iso-8859-1"
        ) from None
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.rstrip("\r")


def each_file(source: SourceConfig, reader_name: str, stats: ReadStats) -> Iterator[tuple[Path, Iterator[tuple[int, str]]]]:
    """For each input file of a line-based reader: (path, its numbered lines); records the file in ``stats``."""
    encoding = resolve_encoding(source)
    for path in input_files(source, reader_name):
        stats.files.append(str(path))
        yield path, read_lines(path, encoding)


def require_some(stats: ReadStats, description: str) -> None:
    """Raise if a source yielded nothing at all, which means it was wholly unreadable."""
    if stats.conversations == 0:
        detail = f"; skipped {stats.skipped} malformed: {'; '.join(stats.skipped_examples)}" if stats.skipped else ""
        raise CorpusError(f"{description} holds no usable conversation{detail}")
