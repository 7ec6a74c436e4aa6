"""What a store holds, as values: records, the store's head, log entries (a leaf module that the store
interface and its backends both import)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

Record = tuple[str, bytes | None]  # (name, value); None: the record was deleted


@dataclass(frozen=True)
class Head:
    """Which world (a full reset starts a new epoch) and how far into it (one version per write)."""

    epoch: int
    version: int


@dataclass(frozen=True)
class LogEntry:
    seq: int  # 1, 2, 3… within the log, across every worker; starts again after the log is cleared
    key: str | None  # the tenant, so that one tenant's entries can be dropped
    value: bytes


def chunks(items: list[Record], size: int) -> Iterator[list[Record]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
