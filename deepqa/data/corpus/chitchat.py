"""The installed ``chitchat-dataset`` package (BYU Chit Chat Challenge), deepqa's built-in default corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, package_folder, register_reader
from deepqa.errors import CorpusError


@register_reader("chitchat")
def read_chitchat(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield each conversation; a turn is one speaker's consecutive messages joined by spaces."""
    path = Path(source.path) if source.path else (
        package_folder("chitchat_dataset", "chitchat", "chitchat-dataset") / "dataset.json")
    stats.files.append(str(path))
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise CorpusError(f"chitchat file {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"chitchat file {str(path)!r} is not valid UTF-8 JSON: {exc}") from None
    for key, conversation in data.items():
        try:
            turns = [" ".join(message["text"] for message in group) for group in conversation["messages"]]
        except (KeyError, TypeError):
            stats.skip(f"{path.name}#{key}", "expected messages: [[{text: ...}, ...], ...]")
            continue
        yield turns
