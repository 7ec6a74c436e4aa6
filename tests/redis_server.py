"""A real `redis-server` for tests, on a free loopback port, with nothing written to disk.

    with redis_server() as url:  # "redis://127.0.0.1:PORT/0"
        ...

or the session fixtures `redis_url` / `fresh_redis` of conftest.py. Without the binary a test that needs it
is skipped on a developer's machine and fails under CI (`CI` set), where .ci/run installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    return "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start(binary: str) -> tuple[subprocess.Popen[bytes], int]:
    """A server that answers PING, or RuntimeError (a port taken between choosing and binding is retried)."""
    problem = ""
    for _attempt in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers_ping(port):
                return process, port
            time.sleep(0.05)
        _stop(process)
        problem = (process.stderr.read().decode(errors="replace") if process.stderr else "")[-500:]
    raise RuntimeError(f"redis-server did not start: {problem}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr:
        process.stderr.close()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run a redis-server for the block; its URL (database 0)."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    process, port = _start(binary)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def require_redis_server() -> None:
    if redis_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")


class PersistentRedis:
    """A redis-server that keeps its data on disk (append-only file, fsync always) in `folder`, so that a test can
    stop it, pause it (SIGSTOP) and start it again on the same port with the same data: a store outage."""

    def __init__(self, folder: Path) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary, self.folder, self.port = binary, folder, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers_ping(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis writes what it holds and exits; its port refuses connections until start()."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused server could not take the SIGTERM
            _stop(self.process)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
