"""Where the mock's state lives: one `Store` interface, three backends.

With the memory store the engine's plain Python objects are the world. A shared store holds the
authoritative copy as named records, each stamped with the store version that last wrote it. A worker
holds the world's small records (keys, accounts, rules, clock…) and a bounded cache of tasks in memory,
and brings them up to date by reading only the records written since the version it has (replica.py); the
task and upload records ("bulk" records) it reads when asked, finding tasks through the store's index of
them (engine/stored_tasks.py), so that its memory does not grow with the store. Writes happen inside
`exclusive()`, which is one lock for every worker of the mock (SQLite's write lock, a Redis lock), so
read-modify-write is atomic across processes and hosts.

Beside the records, a store keeps append-only logs (the request journal, the callback outbox) and the
callbacks that are due, which one worker at a time claims by task (a lease). Every backend keeps these
alike, the memory store too (memory.py), so the journal and the callbacks have one code path for all.

- `memory`: nothing is shared or serialised; the engine's objects are the world, the logs and the due
  callbacks are kept as objects in this process (the fast default).
- `sqlite:PATH`: one file, WAL; survives restarts and kill -9; shared by the workers of one host.
- `redis://HOST:PORT/DB`: shared by every process that can reach the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from mockmj.store.faults import RETRY_AFTER_S, StoreUnavailable, no_space, safe_url
from mockmj.store.memory import MemoryStore
from mockmj.store.records import Head, LogEntry, Record, TaskRow


class Store(Protocol):
    url: str
    shared: bool  # False: the memory store, where the engine's objects are the state

    # -- records: the engine's world
    def exclusive(self) -> AbstractContextManager[None]: ...
    def head(self) -> Head: ...
    def changes(self, since: int) -> tuple[Head, list[Record]]: ...
    def everything(self) -> tuple[Head, list[Record]]: ...  # every live record but the bulk ones (records.py)
    def record(self, name: str) -> bytes | None: ...  # one live record, bulk or not
    def records(self) -> Iterator[Record]: ...  # every live record, a few at a time
    # inside exclusive(), caught up to `after`: the records as the next version, with the index rows of the tasks
    # written (a task record deleted leaves the index by itself)
    def put(self, records: list[Record], after: Head, rows: Sequence[TaskRow] = ()) -> Head: ...
    def wipe(self) -> Head: ...  # inside exclusive(): every record, every due callback gone; a new epoch

    # -- the index of the task records: ids in submission order (of one owner, or all), those ended by a time or
    # still open at a time; how many; which task's files carry an image hash
    def task_ids(self, owner: str | None = None, *, newest_first: bool = False, limit: int | None = None,
                 ended_by: int | None = None, open_at: int | None = None) -> list[str]: ...
    def task_total(self) -> int: ...
    def task_by_hash(self, image_hash: str) -> str | None: ...

    # -- logs: journal and outbox. A value is JSON data (dicts with string keys, lists, strings, numbers, booleans,
    # None); how it is kept is the store's business: the memory store keeps the object itself (nothing is
    # serialised when a request is recorded), a shared store keeps its JSON (records.encode), so an entry reads
    # back equal to what was appended (a tuple may come back as a list). Capped by `keep` entries; the memory
    # store also by `max_bytes` (the entries' texts, see memory.entry_weight; `weight`: the value's, when the caller
    # already knows it), a shared store by entries only (each entry is short).
    def append(self, log: str, key: str | None, value: Any, keep: int, max_bytes: int | None = None,
               weight: int | None = None) -> int: ...
    def entries(self, log: str) -> list[LogEntry]: ...  # oldest first; seq 1, 2, 3… across every worker
    def total(self, log: str) -> int: ...  # entries appended since the log was last cleared whole
    def clear_log(self, log: str, key: str | None = None) -> None: ...  # key: that tenant's entries only

    # -- callbacks that fall due at a time, each claimed by one worker. A claim leases the callbacks' tasks: while
    # a task is leased (until released, or for `lease_s` seconds if its worker dies) no other claim takes its
    # callbacks (not even one of the same worker), so a task's updates are sent one at a time, in order, whichever
    # workers send them. Claimed callbacks stay in the store until released as done: those of a worker that died
    # are claimed again. Values are JSON data, kept as `append` keeps them.
    def add_due(self, items: list[tuple[int, str, str, Any]]) -> None: ...  # (at, owner, task, value)
    def claim_due(self, now: int, lease_s: float) -> list[tuple[Any, Any]]: ...  # (handle, value): time, then added
    def release_due(self, tasks: list[str], done: list[Any]) -> None: ...  # done: handles from claim_due
    def next_due(self) -> int | None: ...  # the earliest time of a due callback, claimed or not
    def drop_due(self, owner: str | None = None) -> None: ...  # a tenant's due callbacks; None: all, leases too

    def close(self) -> None: ...


def open_store(url: str) -> Store:
    """The store a `store` setting names (the setting was checked by config.store_kind)."""
    if url == "memory":
        return MemoryStore()  # type: ignore[return-value]  # no records part: the engine's world is the state
    if url.startswith("sqlite:"):
        from mockmj.store.sqlite import SqliteStore

        return SqliteStore(url)
    from mockmj.store.redis import RedisStore

    return RedisStore(url)


__all__ = ["RETRY_AFTER_S", "Head", "LogEntry", "MemoryStore", "Record", "Store", "StoreUnavailable", "no_space",
           "open_store", "safe_url"]
