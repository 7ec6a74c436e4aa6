"""limits' storage in a SQLite file: the rate limits of `--store sqlite:PATH`, beside the mock's own tables.

A module of its own so that `store/ratelimit.py` can import limits (about a tenth of `mockmj serve`'s start,
with the asyncio and Redis modules it brings) only when a rate limit is first used.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from limits.storage import MovingWindowSupport, Storage

from mockmj.store.sqlite_file import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratelimit_hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ratelimit_hits_by_key ON ratelimit_hits (key, at);
CREATE INDEX IF NOT EXISTS ratelimit_hits_by_expiry ON ratelimit_hits (expires);
CREATE TABLE IF NOT EXISTS ratelimit_counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL);
"""


class SQLiteStorage(Storage, MovingWindowSupport):
    """limits' storage in a SQLite file (stdlib sqlite3, WAL): the moving window as one row per hit, the
    fixed window as a counter. Every read-modify-write is one `BEGIN IMMEDIATE` transaction, so worker
    processes sharing the file count each key's hits together and never both take its last one.

    Connections, WAL and the write lock: sqlite_file.py.
    """

    STORAGE_SCHEME = None  # built by `open_storage` from the mock's `sqlite:PATH`, not registered in limits

    def __init__(self, path: str | Path, wrap_exceptions: bool = False) -> None:
        super().__init__(f"sqlite:{path}", wrap_exceptions=wrap_exceptions)
        self.file = SqliteFile(path, _SCHEMA)  # a file that cannot be opened fails here, at start

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def close(self) -> None:
        self.file.close()

    # --- the moving window
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        with self.file.write() as db:
            now = time.time()
            # expired hits of every key go here, so the table holds only the windows in use
            db.execute("DELETE FROM ratelimit_hits WHERE expires <= ?", (now,))
            (count,) = db.execute("SELECT COUNT(*) FROM ratelimit_hits WHERE key = ? AND at >= ?",
                                  (key, now - expiry)).fetchone()
            if count + amount > limit:
                return False
            db.executemany("INSERT INTO ratelimit_hits (key, at, expires) VALUES (?, ?, ?)",
                           [(key, now, now + expiry)] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, count = self.file.connection().execute(
            "SELECT MIN(at), COUNT(*) FROM ratelimit_hits WHERE key = ? AND at >= ?", (key, now - expiry)
        ).fetchone()
        return (oldest if oldest is not None else now), count

    # --- the fixed window (limits' other strategies need it; the mock uses the moving window)
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.file.write() as db:
            now = time.time()
            row = db.execute("SELECT count, expires FROM ratelimit_counters WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                db.execute("INSERT OR REPLACE INTO ratelimit_counters (key, count, expires) VALUES (?, ?, ?)",
                           (key, amount, now + expiry))
                return amount
            db.execute("UPDATE ratelimit_counters SET count = count + ? WHERE key = ?", (amount, key))
            return int(row[0]) + amount

    def get(self, key: str) -> int:
        row = self.file.connection().execute(
            "SELECT count FROM ratelimit_counters WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self.file.connection().execute(
            "SELECT expires FROM ratelimit_counters WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return float(row[0]) if row else time.time()

    # --- housekeeping
    def clear(self, key: str) -> None:
        with self.file.write() as db:
            db.execute("DELETE FROM ratelimit_hits WHERE key = ?", (key,))
            db.execute("DELETE FROM ratelimit_counters WHERE key = ?", (key,))

    def reset(self) -> int | None:
        with self.file.write() as db:
            removed = db.execute("DELETE FROM ratelimit_hits").rowcount
            removed += db.execute("DELETE FROM ratelimit_counters").rowcount
            return removed

    def check(self) -> bool:
        try:
            self.file.connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True
