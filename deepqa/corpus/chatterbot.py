"""The YAML conversations of the installed ``chatterbot-corpus`` package, in one language."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterator

import yaml

from deepqa.config import SourceConfig
from deepqa.corpus.base import Conversation, ReadStats, register_reader
from deepqa.errors import CorpusError


def data_folder() -> Path:
    """The package's ``data`` folder, one sub-folder per language."""
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or spec.origin is None:
        raise CorpusError("corpus format 'chatterbot' needs the chatterbot-corpus package: pip install chatterbot-corpus")
    return Path(spec.origin).parent / "data"


@register_reader("chatterbot")
def read_chatterbot(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield every conversation of every YAML file of ``[corpus] language``."""
    root = data_folder()
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
