"""An engine's in-memory world kept in step with a shared store (SQLite, Redis).

Why a replica and not repositories that read the store on every call: the domain code stays plain
Python over plain objects (the same code runs on every backend, so they cannot drift apart), and
reads cost what they cost in memory — a worker asks the store only "has anything changed since
version V?" and applies just the records written since. The replica holds the world's small records
whole; of the bulk ones (tasks, uploads: what grows with use) it holds only those in use, in a bounded
cache (stored_tasks.py), and reads the others when asked. Every write is a transaction: the store's
one write lock is taken, the worker catches up, the engine changes its objects and names what it
changed (world.py's typed `Changes`, noted as the world hands records out), and those records are
written as one new version before the lock is released.

A record is named `kind:id` and holds one value as data (codec.py: JSON with a schema version, never a
pickle): `task:ID`, `key:KEY`, `account:ID`, `upload:PATH`, `loose:KEY`, and the singletons `ids`, `clock`,
`refunds`, `rules`. A record this version cannot read stops the worker from starting (a clear error) rather
than being misread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from mockmj.engine import codec
from mockmj.engine.accounts import Account, ApiKey
from mockmj.engine.rules import Rules
from mockmj.engine.stored_tasks import StoredTasks
from mockmj.engine.task_index import TaskIndex
from mockmj.model.ids import IdSource
from mockmj.model.tasks import Task
from mockmj.store.base import Store, StoreUnavailable
from mockmj.store.records import Head, Record, TaskRow


class World(Protocol):
    """The world (world.py) as a replica sees it: its records, what changed, and how to install a record
    another worker wrote."""

    lock: threading.RLock
    ids: IdSource
    tasks: TaskIndex | StoredTasks
    keys: dict[str, ApiKey]
    accounts: list[Account]
    uploads: dict[str, tuple[bytes, str]]
    loose_uploads: dict[str, list[str]]
    refunds: list[tuple[int, str]]
    rules: Rules

    def take_changes(self) -> set[str]: ...
    def task_row(self, task: Task) -> TaskRow: ...
    def forget_local_world(self) -> None: ...
    def install_task(self, task_id: str, value: bytes | None) -> None: ...
    def install_key(self, record: ApiKey) -> None: ...
    def install_account(self, account: Account) -> None: ...
    def clock_state(self) -> tuple[str, bool, int]: ...
    def restore_clock(self, profile: str, virtual: bool, value: int) -> None: ...


def _key_state(record: ApiKey) -> tuple[Any, ...]:
    ops = sorted(record.allowed_operations) if record.allowed_operations is not None else None
    # the limit window names the key's counts in the shared rate limiter: every worker must use the same
    return record.key, record.balance, record.rate_limit, ops, record.limit_window


class Replica:
    def __init__(self, engine: World, store: Store) -> None:
        self.engine = engine
        self.store = store
        self.head = Head(-1, 0)
        self.dirty: set[str] = set()
        self._writing = False
        self._draws = 0
        self._request = threading.local()  # per thread: inside a request already caught up

    # ------------------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.engine.lock:
            if self._writing:
                yield
                return
            try:
                with self.store.exclusive():
                    self._catch_up()
                    self._writing = True
                    self._draws = self.engine.ids.draws
                    try:
                        yield
                    except StoreUnavailable:
                        raise
                    except BaseException:
                        self._writing = False
                        self._flush()  # a refusal raised after a change keeps the change, as in memory
                        raise
                    self._writing = False
                    self._flush()
            except StoreUnavailable:
                self._forget_changes()
                raise
            finally:
                self._writing = False

    def _forget_changes(self) -> None:
        """A transaction the store did not take: what it changed in memory is not the world. The next catch-up
        reloads the store's world whole (a new epoch is assumed), so no change of it is seen by anyone —
        no task that only this worker would show, no charge that the store does not have."""
        self.dirty.clear()
        self.engine.take_changes()
        self.engine.tasks.written()
        self.engine.uploads.clear()
        self.head = Head(-1, 0)

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self.engine.lock:
            if not self._writing and not getattr(self._request, "fresh", False):
                self._catch_up()
            yield

    @contextmanager
    def request(self) -> Iterator[None]:
        """One request: caught up once at its start, its reads see at least that (every write made before the
        request arrived, on any worker) without asking the store again; its writes still catch up."""
        if getattr(self._request, "fresh", False):
            yield
            return
        with self.reading():
            pass
        self._request.fresh = True
        try:
            yield
        finally:
            self._request.fresh = False

    @property
    def writing(self) -> bool:
        return self._writing

    def mark(self, *names: str) -> None:
        self.dirty.update(names)

    def start(self) -> None:
        """Join the store: continue its world, or make this engine's world the store's first. A store that
        cannot be read is a usage error (ValueError), before anything is served."""
        try:
            with self.engine.lock, self.store.exclusive():
                head, records = self.store.everything()
                if head.version == 0 and not records:
                    self.head = head
                    self.mark_world()
                    self._flush()
                else:
                    self._load(head, records)
        except StoreUnavailable as exc:
            raise ValueError(f"store {exc.url}: {exc.reason}") from None

    def mark_world(self) -> None:
        """Every record of the engine's world (a new store, a full reset)."""
        engine = self.engine
        self.mark("ids", "clock", "refunds", "rules")
        self.mark(*(f"key:{k}" for k in engine.keys), *(f"account:{a.instance_id}" for a in engine.accounts))

    def wipe(self) -> None:
        """A full reset: a new epoch in the store, then this engine's fresh world as its first records."""
        self.head = self.store.wipe()
        self.dirty.clear()
        self.mark_world()

    # ------------------------------------------------------------------------------ reading the store
    def _catch_up(self) -> None:
        """Apply what other workers wrote since this replica's version (one look at the store when nothing)."""
        head = self.store.head()
        if head == self.head:
            return
        if head.epoch != self.head.epoch or head.purged > self.head.version:
            # somebody reset everything, or this worker is so far behind that the deletions it missed were purged:
            # start from the store's world
            self._load(*self.store.everything())
            return
        head, records = self.store.changes(self.head.version)
        if head.purged > self.head.version:  # purged between the two looks
            self._load(*self.store.everything())
            return
        for name, value in records:
            self._apply(name, value)
        self.head = head

    def _load(self, head: Head, records: list[Record]) -> None:
        self.engine.forget_local_world()
        for name, value in records:
            self._apply(name, value)
        self.head = head

    def _apply(self, name: str, value: bytes | None) -> None:
        try:
            self._install(name, value)
        except codec.RecordError as exc:
            raise StoreUnavailable(self.store.url, f"record {name!r}: {exc}") from None

    def _install(self, name: str, value: bytes | None) -> None:
        engine = self.engine
        kind, _, ident = name.partition(":")
        if kind == "task":
            engine.install_task(ident, value)  # decoded only if this worker holds the task
        elif kind == "key":
            if value is None:
                engine.keys.pop(ident, None)
            else:
                key, balance, rate, ops, window = codec.loads(value)
                engine.install_key(ApiKey(key=key, balance=balance, rate_limit=rate, limit_window=window,
                                          allowed_operations=set(ops) if ops is not None else None))
        elif kind == "account" and value is not None:
            engine.install_account(codec.loads(value))
        elif kind == "upload":
            engine.uploads.pop(ident, None)  # read from the store when asked
        elif kind == "loose":
            if value is None:
                engine.loose_uploads.pop(ident, None)
            else:
                engine.loose_uploads[ident] = codec.loads(value)
        elif kind == "ids" and value is not None:
            engine.ids.restore(codec.loads(value))
        elif kind == "clock" and value is not None:
            engine.restore_clock(*codec.loads(value))
        elif kind == "refunds" and value is not None:
            engine.refunds[:] = codec.loads(value)
        elif kind == "rules" and value is not None:
            engine.rules.restore(codec.loads(value))

    def read_upload(self, path: str) -> tuple[bytes, str] | None:
        """An upload another transaction wrote (uploads are read when asked, not held)."""
        value = self.store.record("upload:" + path)
        if value is None:
            return None
        try:
            data, mime = codec.loads(value)
        except (codec.RecordError, ValueError, TypeError) as exc:
            raise StoreUnavailable(self.store.url, f"record 'upload:{path}': {exc}") from None
        return data, mime

    # ------------------------------------------------------------------------------ writing the store
    def _flush(self) -> None:
        engine = self.engine
        self.dirty |= engine.take_changes()
        if engine.ids.draws != self._draws:
            self.dirty.add("ids")
        if not self.dirty:
            return
        names, self.dirty = sorted(self.dirty), set()
        records = [(name, self._encode(name)) for name in names]
        rows = [engine.task_row(task) for task in (engine.tasks.local(n[5:]) for n, v in records
                                                   if v is not None and n.startswith("task:")) if task is not None]
        self.head = self.store.put(records, self.head, rows)
        # written: the transaction's tasks may leave the cache, its uploads are read from the store from now on
        engine.tasks.written()
        engine.uploads.clear()

    def _encode(self, name: str) -> bytes | None:
        engine = self.engine
        kind, _, ident = name.partition(":")
        value: Any
        if kind == "task":
            value = engine.tasks.local(ident)  # a task the transaction changed is held until written
        elif kind == "key":
            found = engine.keys.get(ident)
            value = None if found is None else _key_state(found)
        elif kind == "account":
            value = next((a for a in engine.accounts if a.instance_id == ident), None)
        elif kind == "upload":
            value = engine.uploads.get(ident)
        elif kind == "loose":
            value = engine.loose_uploads.get(ident)
        elif kind == "ids":
            value = engine.ids.state()
        elif kind == "clock":
            value = engine.clock_state()
        elif kind == "refunds":
            value = list(engine.refunds)
        elif kind == "rules":
            value = engine.rules.state()
        else:
            raise ValueError(f"no record kind {kind!r}")
        return None if value is None else codec.dumps(value)


SAMPLE_TASKS = 50  # of the oldest and of the newest task records, read by the check at start


def check_store(store: Store) -> int:
    """Read what a worker reads at start (the world's records, not the bulk ones), and the oldest and newest task
    records, as a worker would, keeping none: what `serve`'s supervisor does before starting workers, so that a
    store this version cannot read is refused at once, and quickly however many tasks it holds. ValueError naming
    the first record this version cannot read; the number of records read otherwise."""
    try:
        _, records = store.everything()
        ids = store.task_ids(limit=SAMPLE_TASKS) + store.task_ids(newest_first=True, limit=SAMPLE_TASKS)
        records += [(f"task:{i}", store.record(f"task:{i}")) for i in dict.fromkeys(ids)]
        for name, value in records:
            if value is None:
                continue
            try:
                codec.loads(value)
            except codec.RecordError as exc:
                raise ValueError(f"store {store.url}: record {name!r}: {exc}") from None
    except StoreUnavailable as exc:
        raise ValueError(f"store {exc.url}: {exc.reason}") from None
    return len(records)
