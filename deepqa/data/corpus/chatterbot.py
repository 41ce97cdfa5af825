"""The YAML conversations of the installed ``chatterbot-corpus`` package, in one language."""

from __future__ import annotations

from typing import Iterator

import yaml

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, package_folder, register_reader
from deepqa.errors import CorpusError


@register_reader("chatterbot")
def read_chatterbot(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield every conversation of every YAML file of ``[corpus] language``."""
    root = package_folder("chatterbot_corpus", "chatterbot", "chatterbot-corpus") / "data"
    folder = root / source.language
    if not folder.is_dir():
        languages = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise CorpusError(f"chatterbot-corpus has no language {source.language!r}; accepted: {languages}")
    for path in sorted(folder.glob("*.yml")):
        stats.files.append(str(path))
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CorpusError(f"chatterbot file {str(path)!r} cannot be parsed: {exc}") from None
        for index, conversation in enumerate((document or {}).get("conversations") or [], start=1):
            if not isinstance(conversation, list) or not all(isinstance(t, (str, int, float)) for t in conversation):
                stats.skip(f"{path.name}#{index}", "a conversation must be a list of texts")
                continue
            yield [str(turn) for turn in conversation]
