"""The memory store: the logs and the due callbacks of one process, kept as the engine's own objects.

It keeps the `Store` protocol's logs and due-callbacks parts with the promises of the shared backends (entries
numbered and capped, callbacks claimed in time order with a lease on their task, kept until released as done),
so the journal and the callbacks use every store alike. What it does not do is encode: a value is kept as the
object it was given (a shared store turns it into bytes), so recording a request costs no serialisation.

Its records part is empty: with the memory store the engine's world is the state itself (there is nothing to
replicate), see base.py. One lock guards everything here; it is a leaf (nothing else is taken while it is held),
so callers may hold the engine's lock or none.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from mockmj.store.records import LogEntry

ENTRY_OVERHEAD = 400  # bytes of a log entry besides its texts (dict, numbers, small strings)


def text_size(value: Any) -> int:
    """The length of the texts in a value (nested dicts, lists and tuples). Written for speed (the journal
    weighs every request it records): one loop per dict, exact types first."""
    kind = type(value)
    if kind is str:
        return len(value)
    if kind is dict or isinstance(value, dict):
        total = sum(map(len, value))
        for inner in value.values():
            total += len(inner) if type(inner) is str else text_size(inner) if inner is not None else 0
        return total
    if isinstance(value, list | tuple):
        return sum(map(text_size, value))
    if isinstance(value, str):
        return len(value)
    return 0


def entry_weight(value: Any) -> int:
    """Roughly what an entry holds in memory: its texts plus a fixed overhead (computed once, when appended)."""
    return ENTRY_OVERHEAD + text_size(value)


@dataclass
class _Log:
    entries: deque[tuple[int, LogEntry]] = field(default_factory=deque)  # (weight, entry), oldest first
    total: int = 0  # entries ever appended since the log was cleared: the next one's seq is total + 1
    bytes: int = 0


class MemoryStore:
    url = "memory"
    shared = False  # the engine's objects are the state: no replica, no record is ever written

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        # due callbacks: `_order` holds (at, id) sorted, `_due` id → (at, owner, task, value)
        self._order: list[tuple[int, int]] = []
        self._due: dict[int, tuple[int, str, str, Any]] = {}
        self._leases: dict[str, float] = {}  # task → until (wall-clock seconds), as the shared backends lease
        self._ids = itertools.count(1)
        self._wall = wall

    # ---------------------------------------------------------------------------- records: none
    def exclusive(self) -> AbstractContextManager[None]:
        return nullcontext()  # the engine's lock is the memory store's lock

    # ---------------------------------------------------------------------------- logs
    def append(self, log: str, key: str | None, value: Any, keep: int, max_bytes: int | None = None,
               weight: int | None = None) -> int:
        # weighed outside the lock: it walks the value
        heavy = 0 if max_bytes is None else weight if weight is not None else entry_weight(value)
        with self._lock:
            kept = self._logs.get(log)
            if kept is None:  # not setdefault: that would build a log on every append
                kept = self._logs[log] = _Log()
            kept.total += 1
            seq = kept.total
            if keep <= 0:
                return seq
            kept.entries.append((heavy, LogEntry(seq, key, value)))
            kept.bytes += heavy
            while len(kept.entries) > keep:
                kept.bytes -= kept.entries.popleft()[0]
            while max_bytes is not None and kept.bytes > max_bytes and len(kept.entries) > 1:
                kept.bytes -= kept.entries.popleft()[0]
            return seq

    def entries(self, log: str) -> list[LogEntry]:
        with self._lock:
            kept = self._logs.get(log)
            return [entry for _, entry in kept.entries] if kept is not None else []

    def total(self, log: str) -> int:
        with self._lock:
            kept = self._logs.get(log)
            return kept.total if kept is not None else 0

    def clear_log(self, log: str, key: str | None = None) -> None:
        with self._lock:
            kept = self._logs.get(log)
            if kept is None:
                return
            if key is None:
                del self._logs[log]
                return
            kept.entries = deque((w, e) for w, e in kept.entries if e.key != key)
            kept.bytes = sum(w for w, _ in kept.entries)

    # ---------------------------------------------------------------------------- due callbacks
    def add_due(self, items: list[tuple[int, str, str, Any]]) -> None:
        with self._lock:
            for at, owner, task, value in items:
                ident = next(self._ids)
                self._due[ident] = (at, owner, task, value)
                bisect.insort(self._order, (at, ident))  # equal times keep the order they were added in

    def claim_due(self, now: int, lease_s: float) -> list[tuple[int, Any]]:
        wall = self._wall()
        claimed: list[tuple[int, Any]] = []
        with self._lock:
            self._leases = {task: until for task, until in self._leases.items() if until > wall}
            free: dict[str, bool] = {}
            for at, ident in self._order:
                if at > now:
                    break
                _, _, task, value = self._due[ident]
                if task not in free:
                    free[task] = task not in self._leases
                if free[task]:
                    claimed.append((ident, value))
            self._leases.update((task, wall + lease_s) for task, yes in free.items() if yes)
        return claimed

    def release_due(self, tasks: list[str], done: list[Any]) -> None:
        with self._lock:
            for ident in done:
                self._forget(ident)
            for task in tasks:
                self._leases.pop(task, None)

    def next_due(self) -> int | None:
        with self._lock:
            return self._order[0][0] if self._order else None

    def drop_due(self, owner: str | None = None) -> None:
        with self._lock:
            if owner is None:
                self._order.clear()
                self._due.clear()
                self._leases.clear()
                return
            for ident in [i for i, (_, o, _, _) in self._due.items() if o == owner]:
                self._forget(ident)

    def _forget(self, ident: int) -> None:
        """One due callback gone (under the lock); a handle already forgotten is no error."""
        item = self._due.pop(ident, None)
        if item is not None:
            at = item[0]
            index = bisect.bisect_left(self._order, (at, ident))
            del self._order[index]

    def close(self) -> None:
        return None
