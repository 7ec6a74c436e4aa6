"""What a store holds, as values: records, the store's head, log entries (a leaf module that the store
interface and its backends both import)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mockmj.model.jsonio import compact

Record = tuple[str, bytes | None]  # (name, value); None: the record was deleted

# A deleted record is kept as a tombstone (its name, no value) so that other workers learn of the deletion when
# they catch up; every PURGE_EVERY versions the tombstones older than PURGE_LAG versions are purged. A worker
# further behind than that (head.purged) cannot know what was deleted meanwhile, and reloads the whole world.
PURGE_EVERY = 1000
PURGE_LAG = 10_000


@dataclass(frozen=True)
class Head:
    """Which world (a full reset starts a new epoch) and how far into it (one version per write)."""

    epoch: int
    version: int
    purged: int = field(default=0, compare=False)  # tombstones of versions up to this one are gone


def purge_horizon(version: int) -> int | None:
    """The version up to which tombstones are purged once `version` is written, or None: not this time."""
    return version - PURGE_LAG if version % PURGE_EVERY == 0 and version > PURGE_LAG else None


# Records a worker does not hold in memory with a shared store: it reads each when asked (the world's other
# records, a handful per key, it holds whole).
BULK_KINDS = ("task:", "upload:")


def is_bulk(name: str) -> bool:
    return name.startswith(BULK_KINDS)


@dataclass(frozen=True)
class TaskRow:
    """What a store indexes of a task record, so that a worker can find tasks without holding them: whose it is,
    when it ends (None: not known yet, or it waits for something), and the hash its file names carry."""

    id: str
    owner: str
    ends: int | None
    hash: str | None


class LogEntry(NamedTuple):  # a named tuple: the memory store makes one per request recorded, at half the cost
    seq: int  # 1, 2, 3… within the log, across every worker; starts again after the log is cleared
    key: str | None  # the tenant, so that one tenant's entries can be dropped
    value: Any  # what was appended (JSON data), however the store keeps it


def encode(value: Any) -> bytes:
    """A log entry's or a due callback's value as a shared store keeps it: compact UTF-8 JSON."""
    return compact(value)


def decode(data: bytes) -> Any:
    """What `encode` wrote. Stores written before values were plain JSON kept each one in the records' envelope
    (`{"mockmj": 1, "v": …}`, engine/codec.py) and are read as well."""
    value = json.loads(data)
    if isinstance(value, dict) and value.keys() == {"mockmj", "v"}:
        value = value["v"]
        if isinstance(value, dict) and value.keys() == {"$t"}:  # a due callback: a tuple, in that encoding
            return value["$t"]
    return value


def chunks(items: list[Record], size: int) -> Iterator[list[Record]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
