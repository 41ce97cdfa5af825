"""Every exchange and its feedback, in SQLite (WAL mode): committed rows survive a killed server. The schema
carries its version (``PRAGMA user_version``); a database written by a newer deepqa is refused, not changed.
Exchanges older than ``keep_days`` are deleted, with their feedback, at start and every hour."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from deepqa.errors import DatasetError

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY, time REAL NOT NULL, session TEXT, question TEXT NOT NULL, context TEXT NOT NULL,
    answer TEXT NOT NULL, decoding TEXT NOT NULL, latency_ms REAL NOT NULL, model TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    exchange_id TEXT NOT NULL REFERENCES exchanges(id), time REAL NOT NULL, rating INTEGER NOT NULL, comment TEXT);
CREATE INDEX IF NOT EXISTS feedback_exchange ON feedback(exchange_id);
CREATE INDEX IF NOT EXISTS exchanges_time ON exchanges(time);
"""
SCHEMA_VERSION = 1
PURGE_EVERY_S = 3600


class ConversationStore:
    """A small thread-safe wrapper around one SQLite connection."""

    def __init__(self, path: str | Path, keep_days: float = 0.0):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._connection.close()
            raise DatasetError(f"the database {str(path)!r} has schema version {version}, newer than this deepqa's "
                               f"{SCHEMA_VERSION}: use a newer deepqa or another [serve] database")
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        self._connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._lock = threading.Lock()
        self.keep_days, self._purged_at = keep_days, 0.0
        self.purge()

    def purge(self, now: float | None = None) -> int:
        """Delete the exchanges older than ``keep_days`` (0: keep all) and their feedback; how many."""
        now = time.time() if now is None else now
        self._purged_at = now
        if not self.keep_days:
            return 0
        cutoff = now - 86400 * self.keep_days
        with self._lock:
            self._connection.execute("BEGIN")
            self._connection.execute("DELETE FROM feedback WHERE exchange_id IN (SELECT id FROM exchanges WHERE time < ?)",
                                     (cutoff,))
            deleted = self._connection.execute("DELETE FROM exchanges WHERE time < ?", (cutoff,)).rowcount
            self._connection.execute("COMMIT")
        return deleted

    def record(self, session: str | None, question: str, context: list[str], answer: str, decoding: dict,
               latency_ms: float, model: str) -> str:
        """Store one exchange; returns its id."""
        if self.keep_days and time.time() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        exchange_id = uuid.uuid4().hex
        with self._lock:
            self._connection.execute(
                "INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (exchange_id, time.time(), session, question, json.dumps(context, ensure_ascii=False), answer,
                 json.dumps(decoding), latency_ms, model))
        return exchange_id

    def add_feedback(self, exchange_id: str, rating: int, comment: str | None) -> bool:
        """Store a rating of an exchange; False when there is no such exchange."""
        with self._lock:
            if self._connection.execute("SELECT 1 FROM exchanges WHERE id = ?", (exchange_id,)).fetchone() is None:
                return False
            self._connection.execute("INSERT INTO feedback VALUES (?, ?, ?, ?)",
                                     (exchange_id, time.time(), rating, comment))
        return True

    def exchanges(self, min_rating: int | None = None) -> list[dict]:
        """Stored exchanges in time order, with their summed rating; only those rated at least
        ``min_rating`` when given."""
        query = ("SELECT e.id, e.time, e.session, e.question, e.context, e.answer, COALESCE(SUM(f.rating), 0), "
                 "COUNT(f.rating) FROM exchanges e LEFT JOIN feedback f ON f.exchange_id = e.id "
                 "GROUP BY e.id ORDER BY e.time")
        with self._lock:
            rows = self._connection.execute(query).fetchall()
        result = [{"id": r[0], "time": r[1], "session": r[2], "question": r[3], "context": json.loads(r[4]),
                   "answer": r[5], "rating": r[6], "ratings": r[7]} for r in rows]
        if min_rating is not None:
            result = [row for row in result if row["ratings"] and row["rating"] >= min_rating]
        return result

    def close(self) -> None:
        with self._lock:
            self._connection.close()
