"""The request journal: what clients sent and what they got, capped so it never grows without bound."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mockmj.model.masking import key_matches
from mockmj.store.base import StoreUnavailable
from mockmj.store.memory import MemoryStore

if TYPE_CHECKING:
    from mockmj.store.base import Store

log = logging.getLogger("mockmj.store")

BILLABLE_PREFIXES = ("/mj/submit/", "/mj/insight-face/")
LOG = "journal"  # the store's log that holds it


def billable(method: str, path: str) -> bool:
    """Requests that can cost money on a paid deployment: every submit."""
    return method == "POST" and any(path.startswith(p) for p in BILLABLE_PREFIXES)


class Journal:
    """Capped by entries and, on the memory store, by bytes (each entry weighed once, when it is recorded): the
    oldest entries go first. The entries live in the store's "journal" log, whichever the store: with a shared
    store the entries of every worker go to one log, numbered across workers and capped by entries (each
    entry's texts are short: a body is kept to 300 characters)."""

    def __init__(self, size: int, max_bytes: int = 4 * 1024 * 1024, store: Store | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._store: Store = store if store is not None else MemoryStore()  # type: ignore[assignment]

    @property
    def total(self) -> int:
        return self._store.total(LOG)

    def record(self, entry: dict[str, Any], weight: int | None = None) -> None:
        """`weight`: the entry's (store/memory.py, entry_weight) when the caller knows it without walking it."""
        try:
            self._store.append(LOG, entry.get("key"), entry, self.size, self.max_bytes, weight)
        except StoreUnavailable as exc:
            # the answer it records was given (or is a 503 already): losing the entry beats failing it
            log.warning("journal: entry not kept: %s", exc)

    def clear(self, key: str | None = None) -> None:
        self._store.clear_log(LOG, key)

    def query(self, filters: dict[str, str], limit: int | None = None) -> list[dict[str, Any]]:
        # filtered on the stored entries; only those answered are copied (with their seq)
        items = self._store.entries(LOG)
        for name, wanted in filters.items():
            if name == "billable":
                flag = wanted.lower() in ("1", "true", "yes")
                items = [e for e in items if e.value.get("billable") is flag]
            elif name == "since":
                items = [e for e in items if e.seq > int(wanted)]
            elif name == "key":
                items = [e for e in items if key_matches(e.value.get("key"), wanted)]
            elif name == "seq":
                items = [e for e in items if str(e.seq) == wanted]
            else:
                items = [e for e in items if str(e.value.get(name)) == wanted]
        if limit is not None and limit >= 0:
            items = items[-limit:] if limit else []
        return [{"seq": e.seq, **e.value} for e in items]

    def __len__(self) -> int:
        return len(self._store.entries(LOG))
