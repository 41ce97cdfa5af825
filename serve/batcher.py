"""Gathers concurrent questions into batches that one model worker decodes together."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import astuple, dataclass, field
from typing import Callable, Sequence


class QueueFull(Exception):
    """Too many questions are waiting already."""


@dataclass
class Job:
    """One question waiting for its answer."""

    question: str
    context: Sequence[str] | None
    options: object
    future: Future = field(default_factory=Future)


class RequestBatcher:
    """Questions submitted from many threads are answered by one worker thread, up to ``max_batch`` at a
    time: the worker takes the first waiting question, waits at most ``max_wait_ms`` for more, and
    decodes each group of questions with identical decoding options as one batch."""

    def __init__(self, answer: Callable[[list[Job]], list], max_batch: int, max_wait_ms: float, max_queue: int):
        self.answer, self.max_batch, self.max_wait = answer, max_batch, max_wait_ms / 1000.0
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.worker = threading.Thread(target=self._run, name="deepqa-batcher", daemon=True)
        self.worker.start()

    def submit(self, question: str, context: Sequence[str] | None, options) -> Future:
        """Queue a question; its Future holds the reply (or the decoding error)."""
        job = Job(question, context, options)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull from None
        return job.future

    def close(self) -> None:
        """Stop the worker after the questions already queued."""
        self.jobs.put(None)
        self.worker.join(timeout=10)

    def _collect(self, first: Job) -> list[Job]:
        batch = [first]
        deadline = threading.Event()
        timer = threading.Timer(self.max_wait, deadline.set)
        timer.start()
        try:
            while len(batch) < self.max_batch and not deadline.is_set():
                try:
                    job = self.jobs.get(timeout=max(self.max_wait / 4, 0.0005))
                except queue.Empty:
                    continue
                if job is None:
                    self.jobs.put(None)
                    break
                batch.append(job)
        finally:
            timer.cancel()
        return batch

    def _run(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch = self._collect(first) if self.max_batch > 1 and self.max_wait > 0 else [first]
            groups: dict[tuple, list[Job]] = {}
            for job in batch:
                groups.setdefault(astuple(job.options), []).append(job)
            for jobs in groups.values():
                try:
                    replies = self.answer(jobs)
                except Exception as exc:  # handed to the waiting request, which answers with an error
                    for job in jobs:
                        job.future.set_exception(exc)
                    continue
                for job, reply in zip(jobs, replies):
                    job.future.set_result(reply)
