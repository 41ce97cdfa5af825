"""The WSGI server of ``deepqa serve``: waitress with a drained shutdown (on SIGTERM or SIGINT it stops
accepting connections, answers every request it has already received, closes the store and exits 0, within
``[serve] shutdown_timeout_s``) and its own errors (oversize body, bad request line or headers) in the API's
JSON form."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

import json

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from deepqa.log import get_logger

LOG = get_logger(__name__)


class JsonErrorTask(ErrorTask):
    """waitress' answer to a request it cannot parse, as ``{"error": {"code", "message"}}`` JSON."""

    def execute(self):
        error = self.request.error
        code = {400: "bad_request", 413: "body_too_large", 431: "headers_too_large"}.get(error.code, "http_error")
        body = json.dumps({"error": {"code": code, "message": f"{error.reason}: {error.body}"}}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    """A connection whose parse errors are answered by :class:`JsonErrorTask`."""

    error_task_class = JsonErrorTask


class _ClosingResponse:
    """A WSGI response that calls ``done`` once the server has closed it (the answer is written)."""

    def __init__(self, response, done: Callable[[], None]):
        self.response, self.done = response, done

    def __iter__(self):
        return iter(self.response)

    def close(self) -> None:
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            self.done()


class DrainingServer:
    """A waitress server for ``app`` whose :meth:`run` returns after a drained shutdown."""

    def __init__(self, app, host: str, port: int, threads: int, max_body_bytes: int, timeout_s: float,
                 on_drained: Callable[[], None]):
        self.in_flight, self._count_lock = 0, threading.Lock()
        self.server = waitress.create_server(self._counted(app), host=host, port=port, threads=threads,
                                             ident="deepqa", max_request_body_size=max_body_bytes)
        self.server.channel_class = JsonErrorChannel
        self.timeout_s, self.on_drained = timeout_s, on_drained
        self.stopping, self.drained = False, threading.Event()
        # Under load waitress warns of its task queue on every request; the batcher's queue is the one to watch.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        adjustments = self.server.adj
        try:
            while not self.drained.is_set():  # one pass of the event loop at a time, to see when to end
                wasyncore.loop(timeout=adjustments.asyncore_loop_timeout, map=self.server._map,
                               use_poll=adjustments.asyncore_use_poll, count=1)
                if self.stopping and self.server.socket.fileno() != -1:
                    self._close_listener()
        finally:
            self.server.task_dispatcher.shutdown()
            wasyncore.close_all(self.server._map)
            self.on_drained()

    def _counted(self, app):
        """``app``, counting the requests it is answering (until waitress closes their response)."""
        def counted(environ, start_response):
            with self._count_lock:
                self.in_flight += 1
            try:
                return _ClosingResponse(app(environ, start_response), self._finished)
            except BaseException:
                self._finished()
                raise
        return counted

    def _finished(self) -> None:
        with self._count_lock:
            self.in_flight -= 1

    def busy(self) -> bool:
        """Whether a received request is still being answered or an answer still being sent."""
        channels = [channel for channel in list(self.server._map.values()) if isinstance(channel, HTTPChannel)]
        return self.in_flight > 0 or any(channel.total_outbufs_len for channel in channels)

    def _stop(self, signum, frame) -> None:
        if self.stopping:
            return
        self.stopping = True
        LOG.info(f"{signal.Signals(signum).name}: no new connections; answering the requests already received")
        self.server.accepting = False
        # The listening socket is closed by the event loop between two passes, not here: this handler may
        # interrupt a select() that holds its descriptor, which would then fail with EBADF.
        self.server.pull_trigger()
        threading.Thread(target=self._drain, name="drain", daemon=True).start()

    def _close_listener(self) -> None:
        """The listening socket leaves the loop, then closes: new connections are refused."""
        self.server.del_channel()
        self.server.socket.close()

    def _drain(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.busy():
            LOG.warning(f"shutdown_timeout_s ({self.timeout_s:g}) passed with requests unanswered; stopping anyway")
        self.drained.set()
        self.server.pull_trigger()  # wake the loop in the main thread, which then ends
