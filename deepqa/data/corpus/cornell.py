"""The Cornell Movie-Dialogs Corpus, exactly as released (ISO-8859-1, CRLF, ` +++$+++ ` fields)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, read_lines, register_reader, resolve_encoding
from deepqa.errors import CorpusError

SEPARATOR = " +++$+++ "
LINES_FILE = "movie_lines.txt"
CONVERSATIONS_FILE = "movie_conversations.txt"
_ID_LIST = re.compile(r"^\[\s*'[^']+'(?:\s*,\s*'[^']+')*\s*\]$")
_ID = re.compile(r"'([^']+)'")


def _folder(source: SourceConfig) -> Path:
    if not source.path:
        raise CorpusError("corpus format 'cornell' needs a path: set [corpus] path to the corpus folder")
    folder = Path(source.path).expanduser()
    if folder.is_file():
        folder = folder.parent
    for name in (LINES_FILE, CONVERSATIONS_FILE):
        if not (folder / name).is_file():
            raise CorpusError(f"cornell corpus folder {str(folder)!r} has no {name}")
    return folder


def _read_movie_lines(path: Path, encoding: str, stats: ReadStats) -> dict[str, str]:
    lines: dict[str, str] = {}
    for number, line in read_lines(path, encoding):
        if not line:
            continue
        fields = line.split(SEPARATOR)
        if len(fields) != 5 or not fields[0].strip():
            stats.skip(f"{path.name}:{number}", f"expected 5 fields separated by '{SEPARATOR.strip()}'")
            continue
        lines[fields[0].strip()] = fields[4]
    return lines


@register_reader("cornell")
def read_cornell(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield each conversation's turns in the order of its line-id list (parsed without eval).

    A line id that ``movie_lines.txt`` lacks is counted as skipped and splits the conversation,
    so no two turns that were not adjacent become a pair.
    """
    folder = _folder(source)
    encoding = resolve_encoding(source, default="iso-8859-1")
    stats.files += [str(folder / LINES_FILE), str(folder / CONVERSATIONS_FILE)]
    texts = _read_movie_lines(folder / LINES_FILE, encoding, stats)
    for number, line in read_lines(folder / CONVERSATIONS_FILE, encoding):
        if not line:
            continue
        fields = line.split(SEPARATOR)
        if len(fields) != 4 or not _ID_LIST.match(fields[3].strip()):
            stats.skip(f"{CONVERSATIONS_FILE}:{number}", "expected 4 fields ending with a list like ['L1', 'L2']")
            continue
        turns: Conversation = []
        for line_id in _ID.findall(fields[3]):
            if line_id in texts:
                turns.append(texts[line_id])
                continue
            stats.skip(f"{CONVERSATIONS_FILE}:{number}", f"line id {line_id} is not in {LINES_FILE}")
            if turns:
                yield turns
            turns = []
        if turns:
            yield turns
