"""Conversations from a database: ``sql_query`` returns (conversation_id, text) rows, turns in order.

SQLite is built in (a file path or ``sqlite:///path``); any other SQLAlchemy URL works when
SQLAlchemy and the database's driver are installed (``mysql+pymysql://...``, ``postgresql://...``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

from deepqa.config import SourceConfig
from deepqa.data.corpus.base import Conversation, ReadStats, register_reader
from deepqa.errors import CorpusError

SQLITE_PREFIX = "sqlite:///"


def _sqlite_path(url: str) -> Path | None:
    if url.startswith(SQLITE_PREFIX):
        return Path(url[len(SQLITE_PREFIX):])
    if "://" not in url:
        return Path(url)
    return None


def _sqlite_rows(path: Path, query: str) -> Iterator[tuple]:
    if not path.is_file():
        raise CorpusError(f"SQLite database {str(path)!r} does not exist")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CorpusError(f"SQLite database {str(path)!r} cannot be opened: {exc}") from None
    try:
        yield from connection.execute(query)
    except sqlite3.Error as exc:
        raise CorpusError(f"[corpus] sql_query failed on {str(path)!r}: {exc}") from None
    finally:
        connection.close()


def _sqlalchemy_rows(url: str, query: str) -> Iterator[tuple]:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            yield from connection.execute(sqlalchemy.text(query))
    except ImportError as exc:
        raise CorpusError(f"the driver for {url.split('://')[0]} is not installed: {exc}") from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise CorpusError(f"[corpus] sql_query failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None


def group_rows(rows: Iterable[tuple], stats: ReadStats) -> Iterator[Conversation]:
    """Group consecutive rows with the same conversation id; bad rows are skipped and counted."""
    current_id, turns = object(), []
    for number, row in enumerate(rows, start=1):
        if len(row) < 2 or not isinstance(row[1], str):
            stats.skip(f"row {number}", "expected (conversation_id, text) with text a string")
            continue
        if row[0] != current_id:
            if turns:
                yield turns
            current_id, turns = row[0], []
        turns.append(row[1])
    if turns:
        yield turns


@register_reader("sql")
def read_sql(source: SourceConfig, stats: ReadStats) -> Iterator[Conversation]:
    """Yield the conversations that ``[corpus] sql_query`` returns from ``[corpus] sql_url``."""
    if not source.sql_url or not source.sql_query:
        raise CorpusError("corpus format 'sql' needs [corpus] sql_url and sql_query")
    sqlite_path = _sqlite_path(source.sql_url)
    stats.files.append(source.sql_url.split("@")[-1])  # never record credentials
    rows = _sqlite_rows(sqlite_path, source.sql_query) if sqlite_path else _sqlalchemy_rows(source.sql_url, source.sql_query)
    yield from group_rows(rows, stats)
