"""The SQLite store: one file in WAL mode, shared by every worker process of one host.

Every write is one `BEGIN IMMEDIATE` transaction (SQLite's single write lock is the mock's lock), so a
submission that was answered is on disk before the answer leaves, and `kill -9` loses nothing that was
acknowledged. Connections, WAL and the write lock: sqlite_file.py.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockmj.store.faults import StoreUnavailable, guard_faults
from mockmj.store.records import Head, LogEntry, Record, TaskRow, chunks, decode, encode, purge_horizon
from mockmj.store.sqlite_file import BUSY_TIMEOUT_S, SqliteFile

# 1: records as pickles (no `meta` table); 2: records as JSON documents (engine/codec.py); 3: and an index of the
# task records (`task_rows`), so that workers read tasks when asked instead of holding them all
FORMAT = "3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('format', '""" + FORMAT + """');
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,
                                 version INTEGER NOT NULL, purged INTEGER NOT NULL DEFAULT 0);
INSERT OR IGNORE INTO head VALUES (1, 0, 0, 0);
CREATE TABLE IF NOT EXISTS records (name TEXT PRIMARY KEY, version INTEGER NOT NULL, value BLOB);
CREATE INDEX IF NOT EXISTS records_by_version ON records (version);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logs (log TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT, value BLOB NOT NULL,
                                 PRIMARY KEY (log, seq));
CREATE TABLE IF NOT EXISTS due (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, owner TEXT NOT NULL,
                                task TEXT NOT NULL, value BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS due_by_time ON due (at);
CREATE TABLE IF NOT EXISTS leases (task TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS task_rows (id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, ends INTEGER, hash TEXT);
CREATE INDEX IF NOT EXISTS task_rows_by_owner ON task_rows (owner);
CREATE INDEX IF NOT EXISTS task_rows_by_hash ON task_rows (hash);
CREATE INDEX IF NOT EXISTS task_rows_by_end ON task_rows (owner, ends);
INSERT OR IGNORE INTO counters VALUES ('task_rows', 0);
CREATE TRIGGER IF NOT EXISTS task_rows_added AFTER INSERT ON task_rows
  BEGIN UPDATE counters SET value = value + 1 WHERE name = 'task_rows'; END;
CREATE TRIGGER IF NOT EXISTS task_rows_gone AFTER DELETE ON task_rows
  BEGIN UPDATE counters SET value = value - 1 WHERE name = 'task_rows'; END;
"""
# count(*) reads the whole index (a million rows: tens of milliseconds at every submission); the triggers keep the
# count as the rows come and go
# A task row's rowid is the order in which the store first met the task (an upsert keeps it): submission order.
TASK_ROW = ("INSERT INTO task_rows (id, owner, ends, hash) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET ends = excluded.ends, hash = excluded.hash")
# The tables a mockmj store file may hold (its own, and the rate limits' and keys' last uses beside them,
# store/ratelimit.py).
OWN_TABLES = frozenset({"meta", "head", "records", "counters", "logs", "due", "leases", "task_rows",
                        "sqlite_sequence", "ratelimit_hits", "ratelimit_counters", "key_activity"})


def check_file(url: str, path: Path) -> None:
    """Refuse, before anything is written to it, a file that is not a mockmj store of this format: another
    application's database (mockmj would add its tables beside that application's), or a store of an older
    mockmj whose records this version cannot read."""
    if not path.exists() or path.stat().st_size == 0:
        return  # a new store
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            stamp = connection.execute("SELECT value FROM meta WHERE name = 'format'").fetchone() \
                if "meta" in tables else None
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"store {url}: {path} is not a mockmj SQLite store ({exc})") from None
    foreign = sorted(tables - OWN_TABLES)
    if foreign:
        raise ValueError(f"store {url}: {path} is another application's SQLite database (tables "
                         f"{', '.join(foreign[:5])}); give mockmj a file of its own")
    if "head" in tables and stamp is None:
        raise ValueError(f"store {url}: {path} was written by an older mockmj (records as pickles), which this "
                         "version does not read; start on a new file")
    if stamp is not None and stamp[0] != FORMAT:
        raise ValueError(f"store {url}: {path} is a mockmj store of format {stamp[0]}; this version reads format "
                         f"{FORMAT} only")


class SqliteStore:
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        path = Path(url[len("sqlite:"):]).expanduser()
        if path.parent and not path.parent.exists():
            raise ValueError(f"store {url}: the folder {path.parent} does not exist")
        check_file(url, path)
        try:
            self.file = SqliteFile(path, SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"store {url}: {path} is not a mockmj SQLite store ({exc})") from None
        except sqlite3.Error as exc:
            raise ValueError(f"store {url}: cannot open {path}: {exc}") from None

    # ---------------------------------------------------------------------------- records
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        try:
            with self.file.write():
                yield
        except sqlite3.Error as exc:  # BEGIN or COMMIT: locked past the busy timeout, disk full, I/O error
            raise StoreUnavailable(self.url, exc) from exc

    def head(self) -> Head:
        epoch, version, purged = self.file.connection().execute("SELECT epoch, version, purged FROM head").fetchone()
        return Head(epoch, version, purged)

    def changes(self, since: int) -> tuple[Head, list[Record]]:
        with self.file.read() as conn:
            head = self.head()
            rows = conn.execute("SELECT name, value FROM records WHERE version > ? ORDER BY version",
                                (since,)).fetchall()
        return head, rows

    def everything(self) -> tuple[Head, list[Record]]:
        with self.file.read() as conn:
            head = self.head()
            rows = []
            # by ranges of the name's index, around the bulk kinds ("task:" … "task;" holds every "task:…")
            for low, high in (("", "task:"), ("task;", "upload:"), ("upload;", "\U0010ffff")):
                rows += conn.execute("SELECT name, value FROM records WHERE name >= ? AND name < ? AND value IS NOT "
                                     "NULL", (low, high)).fetchall()
        return head, rows

    def record(self, name: str) -> bytes | None:
        row = self.file.connection().execute("SELECT value FROM records WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def records(self) -> Iterator[Record]:
        # its own connection: the cursor is read while this thread's connection may be used for other things
        connection = sqlite3.connect(self.file.path, timeout=BUSY_TIMEOUT_S)
        try:
            yield from connection.execute("SELECT name, value FROM records WHERE value IS NOT NULL")
        finally:
            connection.close()

    def put(self, records: list[Record], after: Head, rows: Sequence[TaskRow] = ()) -> Head:
        epoch, version = after.epoch, after.version + 1
        with self.file.write() as conn:
            for part in chunks(records, 500):
                conn.executemany(
                    "INSERT INTO records (name, version, value) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET version = excluded.version, value = excluded.value",
                    [(name, version, value) for name, value in part])
            conn.executemany("DELETE FROM task_rows WHERE id = ?",
                             [(name[5:],) for name, value in records if value is None and name.startswith("task:")])
            conn.executemany(TASK_ROW, [(r.id, r.owner, r.ends, r.hash) for r in rows])
            conn.execute("UPDATE head SET version = ?", (version,))
            horizon = purge_horizon(version)
            if horizon is not None:
                conn.execute("DELETE FROM records WHERE value IS NULL AND version <= ?", (horizon,))
                conn.execute("UPDATE head SET purged = ?", (horizon,))
        return Head(epoch, version, horizon or after.purged)

    def wipe(self) -> Head:
        with self.file.write() as conn:
            conn.execute("DELETE FROM records")
            conn.execute("DELETE FROM due")
            conn.execute("DELETE FROM leases")
            conn.execute("DELETE FROM task_rows")
            conn.execute("UPDATE head SET epoch = epoch + 1, version = 0, purged = 0")
            epoch, version = conn.execute("SELECT epoch, version FROM head").fetchone()
        return Head(epoch, version)

    # ---------------------------------------------------------------------------- the task index
    def task_ids(self, owner: str | None = None, *, newest_first: bool = False, limit: int | None = None,
                 ended_by: int | None = None, open_at: int | None = None) -> list[str]:
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if ended_by is not None:
            where.append("ends <= ?")
            args.append(ended_by)
        if open_at is not None:
            where.append("(ends IS NULL OR ends > ?)")
            args.append(open_at)
        sql = ("SELECT id FROM task_rows" + (" WHERE " + " AND ".join(where) if where else "")
               + (" ORDER BY rowid DESC" if newest_first else " ORDER BY rowid") + " LIMIT ?")
        rows = self.file.connection().execute(sql, (*args, -1 if limit is None else limit))
        return [ident for (ident,) in rows]

    def task_total(self) -> int:
        (count,) = self.file.connection().execute("SELECT value FROM counters WHERE name = 'task_rows'").fetchone()
        return int(count)

    def task_by_hash(self, image_hash: str) -> str | None:
        row = self.file.connection().execute("SELECT id FROM task_rows WHERE hash = ?", (image_hash,)).fetchone()
        return row[0] if row else None

    # ---------------------------------------------------------------------------- logs
    def append(self, log: str, key: str | None, value: Any, keep: int, max_bytes: int | None = None,
               weight: int | None = None) -> int:
        with self.file.write() as conn:
            (seq,) = conn.execute(
                "INSERT INTO counters VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 "
                "RETURNING value", (log,)).fetchone()
            if keep > 0:
                conn.execute("INSERT INTO logs VALUES (?, ?, ?, ?)", (log, seq, key, encode(value)))
                conn.execute("DELETE FROM logs WHERE log = ? AND seq <= ?", (log, seq - keep))
        return seq

    def entries(self, log: str) -> list[LogEntry]:
        rows = self.file.connection().execute("SELECT seq, key, value FROM logs WHERE log = ? ORDER BY seq", (log,))
        return [LogEntry(seq, key, decode(value)) for seq, key, value in rows]

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
    def add_due(self, items: list[tuple[int, str, str, Any]]) -> None:
        if items:
            with self.file.write() as conn:
                conn.executemany("INSERT INTO due (at, owner, task, value) VALUES (?, ?, ?, ?)",
                                 [(at, owner, task, encode(value)) for at, owner, task, value in items])

    def claim_due(self, now: int, lease_s: float) -> list[tuple[int, Any]]:
        wall = time.time()
        with self.file.write() as conn:
            conn.execute("DELETE FROM leases WHERE until <= ?", (wall,))
            rows = conn.execute("SELECT id, task, value FROM due WHERE at <= ? AND task NOT IN (SELECT task FROM "
                                "leases) ORDER BY at, id", (now,)).fetchall()
            conn.executemany("INSERT OR REPLACE INTO leases VALUES (?, ?)",
                             [(task, wall + lease_s) for task in {row[1] for row in rows}])
        # in time order, then in the order they were scheduled
        return [(ident, decode(value)) for ident, _, value in rows]

    def release_due(self, tasks: list[str], done: list[int]) -> None:
        if tasks or done:
            with self.file.write() as conn:
                conn.executemany("DELETE FROM due WHERE id = ?", [(ident,) for ident in done])
                conn.executemany("DELETE FROM leases WHERE task = ?", [(task,) for task in tasks])

    def next_due(self) -> int | None:
        (at,) = self.file.connection().execute("SELECT min(at) FROM due").fetchone()
        return at

    def drop_due(self, owner: str | None = None) -> None:
        with self.file.write() as conn:
            if owner is None:
                conn.execute("DELETE FROM due")
                conn.execute("DELETE FROM leases")
            else:
                conn.execute("DELETE FROM due WHERE owner = ?", (owner,))

    def close(self) -> None:
        self.file.close()


guard_faults(SqliteStore, (sqlite3.Error,))
