"""Every exchange and its feedback, in SQLite (WAL mode): committed rows survive a killed server."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY, time REAL NOT NULL, session TEXT, question TEXT NOT NULL, context TEXT NOT NULL,
    answer TEXT NOT NULL, decoding TEXT NOT NULL, latency_ms REAL NOT NULL, model TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    exchange_id TEXT NOT NULL REFERENCES exchanges(id), time REAL NOT NULL, rating INTEGER NOT NULL, comment TEXT);
CREATE INDEX IF NOT EXISTS feedback_exchange ON feedback(exchange_id);
"""


class ConversationStore:
    """A small thread-safe wrapper around one SQLite connection."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        self._lock = threading.Lock()

    def record(self, session: str | None, question: str, context: list[str], answer: str, decoding: dict,
               latency_ms: float, model: str) -> str:
        """Store one exchange; returns its id."""
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
