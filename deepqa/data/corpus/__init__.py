"""Corpus readers behind a registry, and reading of the configured (possibly blended) sources."""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from deepqa.config import Config, SourceConfig, parse_sources
from deepqa.data.corpus.base import Conversation, ReadStats, require_some
from deepqa.registry import CORPUS_FORMATS, import_submodules

import_submodules(__name__, __path__)  # each reader module registers itself

__all__ = ["CORPUS_FORMATS", "Conversation", "ReadStats", "SourceCorpus", "configured_sources", "read_source", "read_corpus"]


@dataclass
class SourceCorpus:
    """The conversations of one configured source, its blending weight and its read statistics."""

    name: str
    weight: float
    conversations: list[Conversation]
    stats: ReadStats


def configured_sources(config: Config) -> list[tuple[str, SourceConfig, float]]:
    """(name, settings, weight) of each source: the ``[corpus]`` section alone, or the blended list."""
    blended = parse_sources(config.corpus)
    if not blended:
        return [("corpus", config.corpus, 1.0)]
    return [(name, config.sources[name], weight) for name, weight in blended]


def read_source(name: str, source: SourceConfig, weight: float = 1.0, max_conversations: int = 0) -> SourceCorpus:
    """Read one source fully (or its first ``max_conversations``), with a progress bar."""
    stats = ReadStats()
    conversations: list[Conversation] = []
    reader = CORPUS_FORMATS.get(source.format)
    progress = tqdm(reader(source, stats), desc=f"reading {name} ({source.format})", unit=" conversations",
                    disable=None, leave=False)
    for turns in progress:
        conversations.append(turns)
        stats.conversations += 1
        stats.turns += len(turns)
        if max_conversations and len(conversations) >= max_conversations:
            progress.close()
            break
    require_some(stats, f"corpus source {name!r} (format {source.format})")
    return SourceCorpus(name, weight, conversations, stats)


def read_corpus(config: Config) -> list[SourceCorpus]:
    """Read every configured source."""
    return [read_source(name, source, weight, config.corpus.max_conversations)
            for name, source, weight in configured_sources(config)]
