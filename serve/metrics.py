"""Prometheus metrics of one serving process (``GET /metrics``): requests by endpoint and status, their
latency, batch sizes, decoding time, queue depth, graphs compiled since the server became ready (which
must stay 0: every graph a request can reach is compiled first), failed stores, and the model."""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServingMetrics:
    """The metrics of one application, in a registry of its own (several apps may live in one process)."""

    def __init__(self, model: dict[str, str]):
        self.registry = CollectorRegistry()
        self.requests = Counter("deepqa_requests", "HTTP requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("deepqa_request_seconds", "Time to answer a request, by endpoint", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("deepqa_batch_size", "Questions decoded together", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.decode_seconds = Histogram("deepqa_decode_seconds", "Time to decode one batch",
                                        buckets=LATENCY_BUCKETS, registry=self.registry)
        self.store_errors = Counter("deepqa_store_errors", "Exchanges answered but not stored",
                                    registry=self.registry)
        self.queue_depth = Gauge("deepqa_queue_depth", "Questions waiting for a batch", registry=self.registry)
        self.compilations = Gauge("deepqa_compilations_after_ready",
                                  "Graphs compiled since the server became ready (0 when none is compiled on demand)",
                                  registry=self.registry)
        Info("deepqa_model", "The model served", registry=self.registry).info(model)

    def watch(self, queue_depth: Callable[[], int], compilations_after_ready: Callable[[], int]) -> None:
        """Read the queue depth and the compilations when the metrics are collected."""
        self.queue_depth.set_function(queue_depth)
        self.compilations.set_function(compilations_after_ready)

    def timed_batches(self, answer: Callable[[list], list]) -> Callable[[list], list]:
        """``answer`` (jobs → replies), observed: each batch's size and decoding time."""
        def observed(jobs: list) -> list:
            started = time.perf_counter()
            try:
                return answer(jobs)
            finally:
                self.batch_size.observe(len(jobs))
                self.decode_seconds.observe(time.perf_counter() - started)
        return observed

    def render(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
