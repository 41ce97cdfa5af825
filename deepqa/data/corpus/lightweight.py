"""The lightweight format: one utterance per line, a line ``===`` between conversations."""

from __future__ import annotations

from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, each_file, register_reader

SEPARATOR = "==="


@register_reader("lightweight", suffixes=(".txt",))
def read_lightweight(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield the utterances between separator lines; blank lines are ignored."""
    for path, lines in each_file(source, "lightweight", stats):
        turns: Conversation = []
        for _, line in lines:
            if line.strip() == SEPARATOR:
                if turns:
                    yield turns
                turns = []
            elif line.strip():
                turns.append(line)
        if turns:
            yield turns
