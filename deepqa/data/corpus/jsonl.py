"""JSON Lines: ``{"turns": ["...", ...]}`` or ``{"question": "...", "answer": "..."}`` per line."""

from __future__ import annotations

import json
from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, each_file, register_reader


def _turns_of(record: object) -> Conversation | None:
    if not isinstance(record, dict):
        return None
    if "turns" in record:
        turns = record["turns"]
    elif "question" in record and "answer" in record:
        turns = [record["question"], record["answer"]]
    else:
        return None
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        return None
    return turns


@register_reader("jsonl", suffixes=(".jsonl", ".json"))
def read_jsonl(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield each record's turns; bad JSON or records of another shape are skipped and counted."""
    for path, lines in each_file(source, "jsonl", stats):
        for number, line in lines:
            if not line.strip():
                continue
            try:
                turns = _turns_of(json.loads(line))
            except json.JSONDecodeError as exc:
                stats.skip(f"{path.name}:{number}", f"invalid JSON ({exc.msg})")
                continue
            if turns is None:
                stats.skip(f"{path.name}:{number}", 'expected {"turns": [strings]} or {"question": ..., "answer": ...}')
                continue
            yield turns
