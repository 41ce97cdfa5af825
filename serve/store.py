"""Every exchange, its feedback and the sessions' recent turns, in one SQL database through SQLAlchemy: SQLite
(WAL mode) by default, PostgreSQL by URL, so several replicas can share one store and a conversation can move
between them. Committed rows survive a killed server. The schema carries its version (table
``deepqa_schema``); a database written by a newer deepqa is refused, not changed. Exchanges older than
``keep_days`` are deleted, with their feedback, at start and every hour."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from deepqa.errors import DatasetError, DeepQAError

SCHEMA_VERSION = 2
PURGE_EVERY_S = 3600

METADATA = sa.MetaData()
EXCHANGES = sa.Table(
    "exchanges", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("time", sa.Float, nullable=False, index=True),
    sa.Column("session", sa.String(128)),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("decoding", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Index("exchanges_session_time", "session", "time"),
)
FEEDBACK = sa.Table(
    "feedback", METADATA,
    sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), nullable=False, index=True),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text),
)
SCHEMA = sa.Table("deepqa_schema", METADATA, sa.Column("version", sa.Integer, nullable=False))


@dataclass(frozen=True)
class Exchange:
    """One question and its answer, as stored: the session's newest turn pair."""

    session: str | None
    question: str
    context: Sequence[str]
    answer: str
    decoding: dict
    latency_ms: float
    model: str


class StoreError(DeepQAError):
    """The database could not be read or written (full disk, lost connection): the caller decides whether
    the request still succeeds."""


def database_url(database: str | Path) -> str:
    """A SQLAlchemy URL for ``[serve] database``: a URL as given, else a SQLite file (its folder created)."""
    text = str(database)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def redacted(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "the configured database URL"


def _engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise DatasetError(f"[serve] database {url!r} is neither a file path nor a database URL") from None
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, pool_size=16, max_overflow=16)
        except ImportError as exc:
            raise DatasetError(f"[serve] database {redacted(url)} needs a driver that is not installed ({exc}); "
                               f"for PostgreSQL: pip install 'deepqa[postgres]'") from None
    # A connection for every request thread stays open: opening one (and setting its pragmas) per request
    # cost more than the insert.
    engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30},
                              pool_size=64, max_overflow=64)

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class ConversationStore:
    """The exchanges, feedback and session turns of a server (or of several replicas sharing the database).

    ``session_turns`` and ``session_max_age_s`` bound the context a session gives its next question: its last
    turns, forgotten once the session has been idle that long. Every method is thread-safe; database errors
    come out as :class:`StoreError`.
    """

    def __init__(self, database: str | Path, keep_days: float = 0.0, session_turns: int = 6,
                 session_max_age_s: float = 1800.0):
        self.url = database_url(database)
        self.engine = _engine(self.url)
        self.keep_days, self.session_turns, self.session_max_age = keep_days, session_turns, session_max_age_s
        self._purge_lock = threading.Lock()
        # SQLite lets one connection write at a time and makes the others sleep and retry (in growing steps,
        # up to 100 ms); this process's writers queue on a lock instead and go the moment it is free.
        self._write_lock = threading.Lock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        self._purged_at = 0.0
        try:
            self._create_schema()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise DatasetError(f"the conversation database {redacted(self.url)} cannot be opened: "
                               f"{_reason(exc)}") from None
        self.purge()

    def _create_schema(self) -> None:
        with self.engine.begin() as connection:
            if sa.inspect(connection).has_table(SCHEMA.name):
                version = connection.execute(sa.select(sa.func.max(SCHEMA.c.version))).scalar() or 0
                if version > SCHEMA_VERSION:
                    raise DatasetError(f"the database {redacted(self.url)} has schema version {version}, newer than "
                                       f"this deepqa's {SCHEMA_VERSION}: use a newer deepqa or another [serve] database")
            METADATA.create_all(connection, checkfirst=True)
            for index in EXCHANGES.indexes:  # a version-1 database has the table but not every index
                index.create(connection, checkfirst=True)
            connection.execute(SCHEMA.delete())
            connection.execute(SCHEMA.insert().values(version=SCHEMA_VERSION))

    def purge(self, now: float | None = None) -> int:
        """Delete the exchanges older than ``keep_days`` (0: keep all) and their feedback; how many."""
        now = time.time() if now is None else now
        self._purged_at = now
        if not self.keep_days:
            return 0
        is_old = EXCHANGES.c.time < now - 86400 * self.keep_days
        with self._purge_lock, self._write_lock, self._transaction() as connection:
            connection.execute(FEEDBACK.delete().where(FEEDBACK.c.exchange_id.in_(sa.select(EXCHANGES.c.id).where(is_old))))
            return connection.execute(EXCHANGES.delete().where(is_old)).rowcount

    def record(self, session: str | None, question: str, context: list[str], answer: str, decoding: dict,
               latency_ms: float, model: str) -> str:
        """Store one exchange, which is also the session's newest turn pair; returns its id."""
        return self.record_all([Exchange(session, question, context, answer, decoding, latency_ms, model)])[0]

    def record_all(self, exchanges: Sequence[Exchange]) -> list[str]:
        """Store several exchanges in one transaction (the answers of one batch: a commit costs far more
        than an insert), all or none; returns their ids."""
        if self.keep_days and time.time() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        now = time.time()
        rows = [dict(id=uuid.uuid4().hex, time=now, session=item.session, question=item.question,
                     context=json.dumps(list(item.context), ensure_ascii=False), answer=item.answer,
                     decoding=json.dumps(item.decoding), latency_ms=item.latency_ms, model=item.model)
                for item in exchanges]
        with self._write_lock, self._transaction() as connection:
            connection.execute(EXCHANGES.insert(), rows)
        return [row["id"] for row in rows]

    def context(self, session: str, now: float | None = None) -> list[str]:
        """The session's last ``session_turns`` turns, oldest first; empty for an unknown session or one idle
        for longer than ``session_max_age_s``."""
        if not self.session_turns:
            return []
        pairs = -(-self.session_turns // 2)
        query = (sa.select(EXCHANGES.c.question, EXCHANGES.c.answer, EXCHANGES.c.time)
                 .where(EXCHANGES.c.session == session).order_by(EXCHANGES.c.time.desc()).limit(pairs))
        with self._transaction() as connection:
            rows = connection.execute(query).all()
        now = time.time() if now is None else now
        if not rows or now - rows[0].time > self.session_max_age:
            return []
        turns = [turn for row in reversed(rows) for turn in (row.question, row.answer)]
        return turns[-self.session_turns:]

    def add_feedback(self, exchange_id: str, rating: int, comment: str | None) -> bool:
        """Store a rating of an exchange; False when there is no such exchange."""
        with self._write_lock, self._transaction() as connection:
            known = connection.execute(sa.select(EXCHANGES.c.id).where(EXCHANGES.c.id == exchange_id)).first()
            if known is None:
                return False
            connection.execute(FEEDBACK.insert().values(exchange_id=exchange_id, time=time.time(), rating=rating,
                                                        comment=comment))
        return True

    def exchanges(self, min_rating: int | None = None) -> list[dict]:
        """Stored exchanges in time order, with their summed rating; only those rated at least
        ``min_rating`` when given."""
        query = (sa.select(EXCHANGES.c.id, EXCHANGES.c.time, EXCHANGES.c.session, EXCHANGES.c.question,
                           EXCHANGES.c.context, EXCHANGES.c.answer,
                           sa.func.coalesce(sa.func.sum(FEEDBACK.c.rating), 0), sa.func.count(FEEDBACK.c.rating))
                 .select_from(EXCHANGES.outerjoin(FEEDBACK, FEEDBACK.c.exchange_id == EXCHANGES.c.id))
                 .group_by(EXCHANGES.c.id).order_by(EXCHANGES.c.time))
        with self._transaction() as connection:
            rows = connection.execute(query).all()
        result = [{"id": r[0], "time": r[1], "session": r[2], "question": r[3], "context": json.loads(r[4]),
                   "answer": r[5], "rating": int(r[6]), "ratings": int(r[7])} for r in rows]
        if min_rating is not None:
            result = [row for row in result if row["ratings"] and row["rating"] >= min_rating]
        return result

    @contextlib.contextmanager
    def _transaction(self):
        """One transaction, committed at the end of the block; database errors come out as StoreError."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(_reason(exc)) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _reason(error: SQLAlchemyError) -> str:
    """The database's own message, without SQLAlchemy's statement dump and link."""
    original = getattr(error, "orig", None)
    return str(original or error).strip().splitlines()[0]

