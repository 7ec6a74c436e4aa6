"""One SQLite file shared by threads and worker processes (the `sqlite:` store and its rate limits).

- A connection per thread, and a new one after a fork: sqlite3 connections are shared by neither.
- WAL, so readers never wait for the writer; `synchronous=NORMAL`: a committed transaction survives the
  process being killed (only a power cut may lose the last ones, no concern for a test double).
- Writes are `BEGIN IMMEDIATE` transactions behind a lock of this process: threads of one process queue on
  it instead of on SQLite's busy handler, which polls with sleeps of up to 100 ms and made a write's p99
  hundreds of milliseconds under load. Other processes still meet SQLite's lock, with `busy_timeout`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

BUSY_TIMEOUT_S = 60.0  # a writer waits this long for another process's transaction before giving up


class SqliteFile:
    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self._schema = schema
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._writing = threading.RLock()
        self.connection()  # a file that cannot be opened, or is no SQLite database, fails here, at start

    def connection(self) -> sqlite3.Connection:
        held = getattr(self._local, "connection", None)
        if held is not None and self._local.pid == os.getpid():
            return held
        # autocommit mode: transactions are begun explicitly
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(self._schema)  # IF NOT EXISTS everywhere: workers starting together agree
        self._local.connection, self._local.pid = connection, os.getpid()
        with self._guard:
            self._opened.append(connection)
        return connection

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction; nested inside another of the same thread, a part of it."""
        with self._writing:
            connection = self.connection()
            if connection.in_transaction:
                yield connection
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for several SELECTs."""
        connection = self.connection()
        if connection.in_transaction:
            yield connection
            return
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
        for connection in opened:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local = threading.local()
