"""The request journal: what clients sent and what they got, capped so it never grows without bound."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from mockmj.engine import codec
from mockmj.model.masking import key_matches
from mockmj.store.base import StoreUnavailable

if TYPE_CHECKING:
    from mockmj.store.base import Store

log = logging.getLogger("mockmj.store")

BILLABLE_PREFIXES = ("/mj/submit/", "/mj/insight-face/")


def billable(method: str, path: str) -> bool:
    """Requests that can cost money on a paid deployment: every submit."""
    return method == "POST" and any(path.startswith(p) for p in BILLABLE_PREFIXES)


ENTRY_OVERHEAD = 400  # bytes of a journal entry besides its texts (dict, numbers, small strings)


def _size(value: Any) -> int:
    """The length of the texts in a value, its headers and rule included (nested dicts and lists)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(k) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    return 0


def _weight(entry: dict[str, Any]) -> int:
    """Roughly what an entry holds in memory: its texts (headers and rule too) plus a fixed overhead."""
    return ENTRY_OVERHEAD + _size(entry)


class Journal:
    """Capped by entries and by bytes: the oldest entries go first. Each entry is kept with its weight,
    computed once when it is recorded.

    With a shared store the entries of every worker go to one log in the store, numbered across
    workers and capped by entries (each entry's texts are short: a body is kept to 300 characters)."""

    def __init__(self, size: int, max_bytes: int = 4 * 1024 * 1024, store: Store | None = None) -> None:
        self._items: deque[tuple[int, dict[str, Any]]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._total = 0
        self.max_bytes = max_bytes
        self._bytes = 0
        self._store = store if store is not None and store.shared else None

    @property
    def total(self) -> int:
        return self._store.total("journal") if self._store is not None else self._total

    def _entries(self) -> list[dict[str, Any]]:
        if self._store is None:
            with self._lock:
                return [entry for _, entry in self._items]
        return [{"seq": item.seq, **codec.loads(item.value)} for item in self._store.entries("journal")]

    def record(self, entry: dict[str, Any]) -> None:
        if self._store is not None:
            try:
                self._store.append("journal", entry.get("key"), codec.dumps(entry), self._items.maxlen or 0)
            except StoreUnavailable as exc:
                # the answer it records was given (or is a 503 already): losing the entry beats failing it
                log.warning("journal: entry not kept: %s", exc)
            return
        weight = _weight(entry)
        with self._lock:
            self._total += 1
            if self._items.maxlen == 0:
                return
            if len(self._items) == self._items.maxlen:
                self._bytes -= self._items[0][0]
            self._items.append((weight, {"seq": self._total, **entry}))
            self._bytes += weight
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._items.popleft()[0]

    def clear(self, key: str | None = None) -> None:
        if self._store is not None:
            self._store.clear_log("journal", key)
            return
        with self._lock:
            if key is None:
                self._items.clear()
                self._total = 0
            else:
                kept = ((w, e) for w, e in self._items if e.get("key") != key)
                self._items = deque(kept, maxlen=self._items.maxlen)
            self._bytes = sum(w for w, _ in self._items)

    def query(self, filters: dict[str, str], limit: int | None = None) -> list[dict[str, Any]]:
        items = self._entries()
        for name, wanted in filters.items():
            if name == "billable":
                flag = wanted.lower() in ("1", "true", "yes")
                items = [e for e in items if e.get("billable") is flag]
            elif name == "since":
                items = [e for e in items if e["seq"] > int(wanted)]
            elif name == "key":
                items = [e for e in items if key_matches(e.get("key"), wanted)]
            else:
                items = [e for e in items if str(e.get(name)) == wanted]
        if limit is not None and limit >= 0:
            items = items[-limit:] if limit else []
        return items

    def __len__(self) -> int:
        return len(self._items) if self._store is None else len(self._store.entries("journal"))
