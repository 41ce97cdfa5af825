"""Tab-separated pairs: one ``question<TAB>answer`` per line, each line a two-turn conversation."""

from __future__ import annotations

from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, each_file, register_reader


@register_reader("pairs", suffixes=(".tsv", ".txt"))
def read_pairs(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield [question, answer] per line; lines without exactly one tab are skipped and counted."""
    for path, lines in each_file(source, "pairs", stats):
        for number, line in lines:
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                stats.skip(f"{path.name}:{number}", "expected 'question<TAB>answer'")
                continue
            yield fields
