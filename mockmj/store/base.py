"""Where the mock's state lives: one `Store` interface, three backends.

The engine keeps its whole world (tasks, keys, accounts, rules, clock, id source…) as plain Python
objects in memory, and reads them there: a fetch never deserialises anything. A shared store holds the
authoritative copy as named records, each stamped with the store version that last wrote it, so a
worker brings its in-memory copy up to date by reading only the records written since the version it
has (see replica.py). Writes happen inside `exclusive()`, which is one lock for every worker of the
mock (SQLite's write lock, a Redis lock), so read-modify-write is atomic across processes and hosts.

Beside the records, a store keeps append-only logs (the request journal, the callback outbox) and the
callbacks that are due, which any worker may claim; a claimed callback is gone for every other worker,
so each is sent exactly once.

- `memory`: nothing is shared or serialised; the engine's objects are the state (the fast default).
- `sqlite:PATH`: one file, WAL; survives restarts and kill -9; shared by the workers of one host.
- `redis://HOST:PORT/DB`: shared by every process that can reach the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from mockmj.store.faults import RETRY_AFTER_S, StoreUnavailable, no_space, safe_url
from mockmj.store.records import Head, LogEntry, Record


class Store(Protocol):
    url: str
    shared: bool  # False: the memory store, where the engine's objects are the state

    # -- records: the engine's world
    def exclusive(self) -> AbstractContextManager[None]: ...
    def head(self) -> Head: ...
    def changes(self, since: int) -> tuple[Head, list[Record]]: ...
    def everything(self) -> tuple[Head, list[Record]]: ...
    def records(self) -> Iterator[Record]: ...  # every live record, a few at a time (a check at start)
    # inside exclusive(), caught up to `after`: the records as the next version
    def put(self, records: list[Record], after: Head) -> Head: ...
    def wipe(self) -> Head: ...  # inside exclusive(): every record, every due callback gone; a new epoch

    # -- logs: journal and outbox, capped by entries
    def append(self, log: str, key: str | None, value: bytes, keep: int) -> int: ...
    def entries(self, log: str) -> list[LogEntry]: ...
    def total(self, log: str) -> int: ...
    def clear_log(self, log: str, key: str | None = None) -> None: ...

    # -- callbacks that fall due at a time, each claimed by one worker. A claim leases the callbacks' tasks: while
    # a task is leased (until released, or for `lease_s` seconds if its worker dies) no other worker claims its
    # callbacks, so a task's updates are sent one at a time, in order, whichever workers send them. Claimed
    # callbacks stay in the store until released as done: those of a worker that died are claimed again.
    def add_due(self, items: list[tuple[int, str, str, bytes]]) -> None: ...  # (at, owner, task, value)
    def claim_due(self, now: int, lease_s: float) -> list[tuple[Any, bytes]]: ...  # (handle, value), time order
    def release_due(self, tasks: list[str], done: list[Any]) -> None: ...  # done: handles from claim_due
    def next_due(self) -> int | None: ...
    def drop_due(self, owner: str | None = None) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """The default: the state is the engine's own objects, behind the engine's lock. Nothing here is
    ever called on the hot path; it exists so that every engine has a store to name."""

    url = "memory"
    shared = False

    def close(self) -> None:
        return None


def open_store(url: str) -> Store:
    """The store a `store` setting names (the setting was checked by config.store_kind)."""
    if url == "memory":
        return MemoryStore()  # type: ignore[return-value]
    if url.startswith("sqlite:"):
        from mockmj.store.sqlite import SqliteStore

        return SqliteStore(url)
    from mockmj.store.redis import RedisStore

    return RedisStore(url)


__all__ = ["RETRY_AFTER_S", "Head", "LogEntry", "MemoryStore", "Record", "Store", "StoreUnavailable", "no_space",
           "open_store", "safe_url"]
