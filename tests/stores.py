"""`mockmj serve` in a subprocess (`Worker`); several that share one store, each on its own port, so that a test
can pick which worker answers (the Redis server itself comes from tests/redis_server.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.helpers import free_port

TENANT = {"Authorization": "Bearer tenant-a"}  # the key the store fault tests call with


def call(worker: Worker, method: str, path: str, **kw: Any) -> requests.Response:
    """One request as TENANT on a connection of its own, so that of several workers any may take it."""
    with requests.Session() as fresh:
        return fresh.request(method, worker.base + path, headers=TENANT, timeout=40, **kw)


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


class Worker:
    """One `mockmj serve` process on its own port."""

    def __init__(self, store: str, *args: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockmj", "serve", "--port", str(self.port), "--quiet", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "MOCKMJ_STORE": store, "PYTHONUNBUFFERED": "1", **(env or {})})
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mockmj serve stopped: {self.process.communicate()[0]}")
            try:
                requests.get(self.base + "/_mockmj/health", timeout=1)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def workers(store: str, count: int, *args: str) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        for _ in range(count):
            started.append(Worker(store, *args))
        yield started
    finally:
        for worker in started:
            worker.stop(signal.SIGKILL)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:{folder / 'mock.db'}"


def roomy(worker: Worker) -> None:
    """Slots for every submission of a test: none waits, none is refused for a full queue."""
    requests.patch(worker.base + "/_mockmj/accounts/1118138338562560102", json={"coreSize": 100, "queueSize": 100},
                   timeout=10).raise_for_status()
