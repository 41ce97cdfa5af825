"""The recent turns of each session, bounded in count and age, used as the context of its next question."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class SessionStore:
    """Thread-safe map of session id → its last ``turns`` turns; idle sessions expire after ``max_age_s``,
    and beyond ``max_sessions`` the least recently used is forgotten."""

    def __init__(self, turns: int, max_age_s: float, max_sessions: int, clock=time.monotonic):
        self.turns, self.max_age, self.max_sessions, self.clock = turns, max_age_s, max_sessions, clock
        self._sessions: OrderedDict[str, tuple[deque, float]] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, session_id: str) -> list[str]:
        """The session's recent turns, oldest first (empty for an unknown or expired session)."""
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None or self.clock() - entry[1] > self.max_age:
                self._sessions.pop(session_id, None)
                return []
            return list(entry[0])

    def add(self, session_id: str, question: str, answer: str) -> None:
        """Remember one exchange of the session."""
        if not self.turns:
            return
        with self._lock:
            turns = self._sessions.pop(session_id, (deque(maxlen=self.turns), 0.0))[0]
            turns.extend([question, answer])
            self._sessions[session_id] = (turns, self.clock())
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
