"""The SQLite store: one file in WAL mode, shared by every worker process of one host.

Every write is one `BEGIN IMMEDIATE` transaction (SQLite's single write lock is the mock's lock), so a
submission that was answered is on disk before the answer leaves, and `kill -9` loses nothing that was
acknowledged. Connections, WAL and the write lock: sqlite_file.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mockmj.store.records import Head, LogEntry, Record, chunks
from mockmj.store.sqlite_file import SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,
                                 version INTEGER NOT NULL);
INSERT OR IGNORE INTO head VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS records (name TEXT PRIMARY KEY, version INTEGER NOT NULL, value BLOB);
CREATE INDEX IF NOT EXISTS records_by_version ON records (version);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logs (log TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT, value BLOB NOT NULL,
                                 PRIMARY KEY (log, seq));
CREATE TABLE IF NOT EXISTS due (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, owner TEXT NOT NULL,
                                value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS due_by_time ON due (at);
"""


class SqliteStore:
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        path = Path(url[len("sqlite:"):]).expanduser()
        if path.parent and not path.parent.exists():
            raise ValueError(f"store {url}: the folder {path.parent} does not exist")
        try:
            self.file = SqliteFile(path, SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"store {url}: {path} is not a mockmj SQLite store ({exc})") from None
        except sqlite3.Error as exc:
            raise ValueError(f"store {url}: cannot open {path}: {exc}") from None

    # ---------------------------------------------------------------------------- records
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self.file.write():
            yield

    def head(self) -> Head:
        epoch, version = self.file.connection().execute("SELECT epoch, version FROM head").fetchone()
        return Head(epoch, version)

    def changes(self, since: int) -> tuple[Head, list[Record]]:
        with self.file.read() as conn:
            head = self.head()
            rows = conn.execute("SELECT name, value FROM records WHERE version > ? ORDER BY version",
                                (since,)).fetchall()
        return head, rows

    def everything(self) -> tuple[Head, list[Record]]:
        with self.file.read() as conn:
            head = self.head()
            rows = conn.execute("SELECT name, value FROM records WHERE value IS NOT NULL").fetchall()
        return head, rows

    def put(self, records: list[Record], after: Head) -> Head:
        epoch, version = after.epoch, after.version + 1
        with self.file.write() as conn:
            for part in chunks(records, 500):
                conn.executemany(
                    "INSERT INTO records (name, version, value) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET version = excluded.version, value = excluded.value",
                    [(name, version, value) for name, value in part])
            conn.execute("UPDATE head SET version = ?", (version,))
        return Head(epoch, version)

    def wipe(self) -> Head:
        with self.file.write() as conn:
            conn.execute("DELETE FROM records")
            conn.execute("DELETE FROM due")
            conn.execute("UPDATE head SET epoch = epoch + 1, version = 0")
            epoch, version = conn.execute("SELECT epoch, version FROM head").fetchone()
        return Head(epoch, version)

    # ---------------------------------------------------------------------------- logs
    def append(self, log: str, key: str | None, value: bytes, keep: int) -> int:
        with self.file.write() as conn:
            (seq,) = conn.execute(
                "INSERT INTO counters VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 "
                "RETURNING value", (log,)).fetchone()
            if keep > 0:
                conn.execute("INSERT INTO logs VALUES (?, ?, ?, ?)", (log, seq, key, value))
                conn.execute("DELETE FROM logs WHERE log = ? AND seq <= ?", (log, seq - keep))
        return seq

    def entries(self, log: str) -> list[LogEntry]:
        rows = self.file.connection().execute("SELECT seq, key, value FROM logs WHERE log = ? ORDER BY seq", (log,))
        return [LogEntry(seq, key, value) for seq, key, value in rows]

    def total(self, log: str) -> int:
        row = self.file.connection().execute("SELECT value FROM counters WHERE name = ?", (log,)).fetchone()
        return row[0] if row else 0

    def clear_log(self, log: str, key: str | None = None) -> None:
        with self.file.write() as conn:
            if key is None:
                conn.execute("DELETE FROM logs WHERE log = ?", (log,))
                conn.execute("DELETE FROM counters WHERE name = ?", (log,))
            else:
                conn.execute("DELETE FROM logs WHERE log = ? AND key = ?", (log, key))

    # ---------------------------------------------------------------------------- due callbacks
    def add_due(self, items: list[tuple[int, str, bytes]]) -> None:
        if items:
            with self.file.write() as conn:
                conn.executemany("INSERT INTO due (at, owner, value) VALUES (?, ?, ?)", items)

    def claim_due(self, now: int) -> list[bytes]:
        with self.file.write() as conn:
            rows = conn.execute("DELETE FROM due WHERE at <= ? RETURNING at, id, value", (now,)).fetchall()
        return [value for _, _, value in sorted(rows)]  # in time order, then in the order they were scheduled

    def next_due(self) -> int | None:
        (at,) = self.file.connection().execute("SELECT min(at) FROM due").fetchone()
        return at

    def drop_due(self, owner: str | None = None) -> None:
        with self.file.write() as conn:
            if owner is None:
                conn.execute("DELETE FROM due")
            else:
                conn.execute("DELETE FROM due WHERE owner = ?", (owner,))

    def close(self) -> None:
        self.file.close()
