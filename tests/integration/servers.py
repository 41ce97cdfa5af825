"""A real server in a subprocess for the integration tests: `deepqa serve` or waitress on a free port,
called over HTTP, its standard error shown when it fails."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import PROJECT_ROOT
from tests.services import free_ports

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}



def call(url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def deepqa_serve(run, database, *extra):
    """The command line of `deepqa serve` for ``run`` on a given port."""
    return lambda port: [sys.executable, "-m", "deepqa", "serve", "--run", str(run), "--port", str(port),
                         "--set", f"serve.database={database}", *extra]


def waitress_serve(port):
    """The command line of `waitress-serve` for the ``serve.wsgi`` application on ``port``."""
    return [sys.executable, "-m", "waitress", "--host", "127.0.0.1", "--port", str(port), "--threads", "8",
            "serve.wsgi:application"]


class Server:
    """``command`` (a function of the port) in a subprocess, ready when /api/v1/health answers; on a loaded
    2-core machine loading and compiling can take minutes, so it waits up to ``READY_SECONDS``. When it does
    not start, the assertion shows what the server wrote to its standard error."""

    READY_SECONDS = 600

    def __init__(self, command, env=ENV):
        self.port = free_ports()[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.process = subprocess.Popen(command(self.port), cwd=PROJECT_ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.monotonic() + self.READY_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if call(self.url + "/api/v1/health", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise AssertionError(f"the server did not start (exit status {self.process.poll()}); its stderr:\n"
                             f"{self.errors()}")

    def errors(self) -> str:
        """What the server has written to its standard error so far."""
        self.stderr.seek(0)
        return self.stderr.read()[-20000:]

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the server did not stop after {sig!r}; its stderr:\n{self.errors()}") from None


@pytest.fixture(scope="module")
def run(tiny_run):
    """The shared tiny run, served by the tests of a module."""
    return tiny_run
