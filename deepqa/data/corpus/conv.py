"""The xiaohuangji ``.conv`` format: a line ``E`` opens a conversation, each ``M text`` line is a turn."""

from __future__ import annotations

from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, each_file, register_reader


@register_reader("conv", suffixes=(".conv",))
def read_conv(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield conversations; blank lines are ignored, other malformed lines skipped and counted."""
    for path, lines in each_file(source, "conv", stats):
        turns: Conversation | None = None
        for number, line in lines:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped == "E":
                if turns:
                    yield turns
                turns = []
            elif line.startswith("M ") or stripped == "M":
                if turns is None:
                    stats.skip(f"{path.name}:{number}", "an M line before the first E line")
                    continue
                turns.append(line[2:])
            else:
                stats.skip(f"{path.name}:{number}", "neither an E line nor an M line")
        if turns:
            yield turns
