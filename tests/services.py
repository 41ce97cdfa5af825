"""Throwaway PostgreSQL and Redis servers from the machine's Debian packages (`postgresql`, `redis-server`), on
free loopback ports and in temporary folders, for the tests and benchmarks of several replicas. Each is a
context manager; ``missing_reason()`` says why one cannot be started here (then the caller skips)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

READY_SECONDS = 120


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class PostgresServer:
    """A private PostgreSQL cluster (trust authentication on 127.0.0.1, fsync off); ``url`` is its SQLAlchemy
    URL. As root, the cluster runs as the ``postgres`` user, which the Debian package creates."""

    @staticmethod
    def binaries() -> Path | None:
        """The newest installed PostgreSQL's bin folder, if any."""
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
        return Path(found[-1]).parent if found else None

    @classmethod
    def missing_reason(cls) -> str | None:
        if cls.binaries() is None:
            return "PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run PostgreSQL as"
        return None

    def __enter__(self) -> "PostgresServer":
        self.bin = self.binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="deepqa-pg-"))
        self.port = free_ports()[0]
        self.log = self.folder / "server.log"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust", "-U", "deepqa",
                  "--no-sync", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.log), "-w", "-t",
                  str(READY_SECONDS), "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                                           f"-c fsync=off -c max_connections=200", "start")
        self.url = f"postgresql+psycopg://deepqa@127.0.0.1:{self.port}/postgres"
        return self

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if result.returncode:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def __exit__(self, *exc_info) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer:
    """A private Redis server without persistence; ``url`` is its address for ``[serve] rate_limit_storage``."""

    @staticmethod
    def missing_reason() -> str | None:
        if shutil.which("redis-server") is None:
            return "Redis is not installed (Debian package redis-server; .ci/run installs it)"
        return None

    def __enter__(self) -> "RedisServer":
        self.port = free_ports()[0]
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=self.output,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        self.url = f"redis://127.0.0.1:{self.port}/0"
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        self.output.seek(0)
        raise RuntimeError(f"redis-server did not start:\n{self.output.read()}")

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
