"""Gathers concurrent questions into batches that one model worker decodes together."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


class QueueFull(Exception):
    """Too many questions are waiting already."""


@dataclass
class Job:
    """One question waiting for its answer."""

    question: str
    context: Sequence[str] | None
    options: object
    kept: Any = None  # what the caller keeps with the question for the answering (the server: what is stored)
    submitted: float = field(default_factory=time.perf_counter)
    future: Future = field(default_factory=Future)


class RequestBatcher:
    """Questions submitted from many threads are answered by one worker thread, up to ``max_batch`` at a
    time, and each group of questions with identical decoding options is decoded as one batch.

    The worker takes every question already waiting. It waits at most ``max_wait_ms`` for more while
    requests that the server has received are still on their way to the queue (being read and checked by
    their threads), while the batch holds fewer questions than there were requests in the server at once in
    the last ``CONCURRENCY_WINDOW_S`` (clients just answered are about to ask again), or while it falls short
    of the size it will be decoded at anyway (``batch_size_for``: compiled decoders pad a batch to a fixed
    size); otherwise it goes at once. So a lone client's question never waits, and many clients do not
    settle into alternating half-size batches, each decoded while the other half is on its way.
    """

    CONCURRENCY_WINDOW_S = 2.0

    def __init__(self, answer: Callable[[list[Job]], list], max_batch: int, max_wait_ms: float, max_queue: int,
                 batch_size_for: Callable[[int], int] = lambda rows: rows):
        self.answer, self.max_batch, self.max_wait = answer, max_batch, max_wait_ms / 1000.0
        self.batch_size_for = batch_size_for
        self.batches = self.questions = 0  # how many batches were decoded, holding how many questions
        self._arriving = 0  # requests received whose question is not queued yet
        self._in_server = 0  # requests received and not yet answered
        self._peak, self._peak_time = 0, 0.0  # the most requests in the server at once, lately
        self._count_lock = threading.Lock()
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.worker = threading.Thread(target=self._run, name="deepqa-batcher", daemon=True)
        self.worker.start()

    @contextlib.contextmanager
    def request(self):
        """Around the whole handling of a request that asks a question, its answer included."""
        with self._count_lock:
            self._in_server += 1
            now = time.monotonic()
            if self._in_server >= self._peak or now - self._peak_time > self.CONCURRENCY_WINDOW_S:
                self._peak, self._peak_time = self._in_server, now
        try:
            yield
        finally:
            with self._count_lock:
                self._in_server -= 1

    @contextlib.contextmanager
    def arriving(self):
        """Around the reading and checking of a request's question, up to its submission: a batch being
        gathered may wait for it meanwhile."""
        with self._count_lock:
            self._arriving += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._arriving -= 1

    def _expected(self) -> int:
        """How many questions a batch may wait for: the most requests in the server at once, lately."""
        with self._count_lock:
            recent = time.monotonic() - self._peak_time <= self.CONCURRENCY_WINDOW_S
            return min(self.max_batch, self._peak if recent else self._in_server)

    def submit(self, question: str, context: Sequence[str] | None, options, kept: Any = None) -> Future:
        """Queue a question; its Future holds what ``answer`` made of it (or the error). Cancelling the Future
        before the question's batch starts takes the question out."""
        job = Job(question, context, options, kept)
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
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                padded = len(batch) >= min(self.batch_size_for(len(batch)), self.max_batch)
                if (padded and not self._arriving and len(batch) >= self._expected()) or remaining <= 0:
                    break
                try:  # a short wait, then the arrivals are looked at again
                    job = self.jobs.get(timeout=min(remaining, 0.002))
                except queue.Empty:
                    continue
            if job is None:
                self.jobs.put(None)
                break
            batch.append(job)
        return batch

    def _run(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch = self._collect(first) if self.max_batch > 1 else [first]
            # A question whose request gave up waiting (its Future cancelled) is neither decoded nor answered.
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            self.batches, self.questions = self.batches + 1, self.questions + len(batch)
            groups: dict[tuple, list[Job]] = {}
            for job in batch:
                groups.setdefault(job.options.as_tuple(), []).append(job)
            for jobs in groups.values():
                try:
                    replies = self.answer(jobs)
                except Exception as exc:  # handed to the waiting request, which answers with an error
                    for job in jobs:
                        job.future.set_exception(exc)
                    continue
                for job, reply in zip(jobs, replies):
                    job.future.set_result(reply)
