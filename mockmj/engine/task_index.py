"""The tasks of a world held whole in this process (the memory store): O(1) by id, each owner's tasks in
submission order, and the image hash each task's files carry. stored_tasks.py answers the same questions for a
shared store.

Finished tasks are kept compactly. A task object with its strings costs about 2 KB, and a finished task is
rarely read again; so past `capacity` tasks held as objects, the least recently used finished ones are packed
(their field values, pickled and compressed against the first packed task as a preset dictionary: about 230
bytes) and unpacked when read. Pickle is safe here: the bytes are made by this process from its own objects and
never leave it (records that leave it, in a shared store, are JSON: codec.py). A finished task never changes
again except through `get` (a refund, a reset), which unpacks it first. Forgetting one (past `max_tasks`, a key's
reset) needs only where it is filed, which its bytes begin with uncompressed: no task is unpacked to be forgotten.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import pickle
import struct
import sys
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable

from mockmj.model.tasks import Leaving, Task, leaving

FIELDS = tuple(f.name for f in dataclasses.fields(Task))
DEFAULT_CAPACITY = 2_000
PACK_STEP = 16  # finished tasks packed by one request at most


def hash_key(image_hash: str) -> int:
    """An image hash (a UUID) as a number: the index's key, half the size of the string."""
    try:
        return int(image_hash.replace("-", ""), 16)
    except ValueError:
        return hash(image_hash)  # not a UUID (a task made by hand): still a key, confirmed by the path anyway


# The uncompressed head of a packed task: flags, then the lengths of the owner's and the image hash's bytes, which
# follow it. The hash is its UUID's 16 bytes when it is one (HASH_UUID), else its text.
_HEAD = struct.Struct("<BII")
HAS_UPLOADS, HAS_HASH, HASH_UUID = 1, 2, 4


class Packer:
    """Finished tasks to bytes and back. The first task packed is the preset dictionary of every later one: tasks
    share most of their bytes (field layout, account ids, origins), so each then packs to a couple hundred. The
    owner and the image hash come first, uncompressed, for `leaving` (a few dozen bytes more)."""

    def __init__(self) -> None:
        self._dictionary: bytes | None = None

    def pack(self, task: Task) -> bytes:
        raw = pickle.dumps(tuple(getattr(task, name) for name in FIELDS), protocol=5)
        if self._dictionary is None:
            self._dictionary = raw
        packer = zlib.compressobj(6, zdict=self._dictionary)
        owner = task.owner.encode("utf-8", "surrogatepass")
        flags, image_hash = HAS_UPLOADS if task.uploads else 0, b""
        if task.message_hash is not None:
            flags |= HAS_HASH
            try:
                known = uuid.UUID(task.message_hash)
            except ValueError:
                known = None
            if known is not None and str(known) == task.message_hash:  # the text it gives back is the same
                flags, image_hash = flags | HASH_UUID, known.bytes
            else:
                image_hash = task.message_hash.encode("utf-8", "surrogatepass")
        head = _HEAD.pack(flags, len(owner), len(image_hash))
        return b"".join((head, owner, image_hash, packer.compress(raw), packer.flush()))

    @staticmethod
    def _head(data: bytes) -> tuple[int, str, str | None]:
        """flags, owner, image hash."""
        flags, owner_size, hash_size = _HEAD.unpack_from(data)
        start = _HEAD.size + owner_size
        owner = data[_HEAD.size:start].decode("utf-8", "surrogatepass")
        image_hash = None
        if flags & HASH_UUID:
            image_hash = str(uuid.UUID(bytes=data[start:start + hash_size]))
        elif flags & HAS_HASH:
            image_hash = data[start:start + hash_size].decode("utf-8", "surrogatepass")
        return flags, owner, image_hash

    def leaving(self, task_id: str, data: bytes) -> Leaving:
        """What forgetting a packed task takes, read from its head: unpacked only when it has uploads to name."""
        flags, owner, image_hash = self._head(data)
        if flags & HAS_UPLOADS:
            return leaving(self.unpack(data))
        return Leaving(task_id, owner, image_hash, ())

    def unpack(self, data: bytes) -> Task:
        assert self._dictionary is not None  # something was packed before anything is unpacked
        _, owner_size, hash_size = _HEAD.unpack_from(data)  # only where the compressed fields begin
        compressed = memoryview(data)[_HEAD.size + owner_size + hash_size:]
        fields = zlib.decompressobj(zdict=self._dictionary).decompress(compressed)
        values = pickle.loads(fields)  # bytes of our own
        task = Task.__new__(Task)
        for name, value in zip(FIELDS, values, strict=True):
            object.__setattr__(task, name, value)
        task.owner, task.origin = sys.intern(task.owner), task.origin  # one string per owner and base URL again
        return task


class TaskIndex:
    def __init__(self, finished: Callable[[Task], bool], ends: Callable[[Task], int | None], now: Callable[[], int],
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self.finished = finished  # whether a task has ended by now (the world's clock and timing)
        self.ends = ends  # when a task ends, if that is known yet
        self.now = now
        self.capacity = capacity  # finished tasks held as objects before the least recently used are packed
        self._by_id: dict[str, Task | bytes] = {}  # insertion order: submission order
        self._by_owner: dict[str, dict[str, None]] = {}
        self._by_hash: dict[int, str] = {}  # image hash → task id: which task a file path names
        self._packer = Packer()
        # The tasks held as objects, in three places, so that no request scans them all: the finished ones, least
        # recently used first (packed past `capacity`); the open ones whose end is known, by that end (a heap: they
        # move to the finished ones when it passes); the open ones whose end is not known yet (per-poll timing, a
        # MODAL window), looked at a few at a time.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._ending: list[tuple[int, str]] = []
        self._unknown: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------------------ by id
    def get(self, task_id: str) -> Task | None:
        held = self._by_id.get(task_id)
        if held is None:
            return None
        if isinstance(held, bytes):
            held = self._packer.unpack(held)
            self._by_id[task_id] = held
            self._hold(held)
            self._pack_some(PACK_STEP)
        elif task_id in self._finished:
            self._finished.move_to_end(task_id)
        return held

    local = get  # every task is held here

    def owned(self, owner: str, task_id: str) -> Task | None:
        """A task only its owner may see: another key's task looks like no task at all."""
        task = self.get(task_id)
        return task if task is not None and task.owner == owner else None

    def by_hash(self, image_hash: str) -> Task | None:
        task_id = self._by_hash.get(hash_key(image_hash))
        return self.get(task_id) if task_id is not None else None

    def _peek(self, task_id: str) -> Task:
        """A task for reading only, unpacked without being held (a listing of many tasks)."""
        held = self._by_id[task_id]
        return self._packer.unpack(held) if isinstance(held, bytes) else held

    # ------------------------------------------------------------------------------ queries
    def _leaving(self, task_id: str) -> Leaving:
        held = self._by_id[task_id]
        return self._packer.leaving(task_id, held) if isinstance(held, bytes) else leaving(held)

    def leaving_owner(self, owner: str) -> list[Leaving]:
        """What forgetting every task of this owner takes (a key's reset)."""
        return [self._leaving(i) for i in self._by_owner.get(owner, {})]

    def newest_of(self, owner: str, limit: int) -> list[Task]:
        # the latest submissions, then in submit-time order (stable: submission order within a millisecond)
        latest = list(self._by_owner.get(owner, {}))[-limit:] if limit > 0 else []
        return sorted(map(self._peek, latest), key=lambda t: t.submit_time)[::-1]

    def open_of(self, owner: str) -> list[Task]:
        # a packed task is finished: only the tasks held as objects can still be open
        found = (self._by_id[i] for i in self._by_owner.get(owner, {}))
        return [t for t in found if isinstance(t, Task) and not self.finished(t)]

    def newest(self, limit: int, owner: str | None = None) -> list[Task]:
        """The latest `limit` submissions (of one owner, or of all), newest first, read without being held."""
        ids = self._by_id if owner is None else self._by_owner.get(owner, {})
        return [self._peek(i) for i in itertools.islice(reversed(ids), max(limit, 0))]

    def leaving_oldest(self, count: int) -> list[Leaving]:
        """What forgetting up to `count` of the oldest finished tasks takes (beyond `max_tasks`)."""
        found: list[Leaving] = []
        for task_id, held in self._by_id.items():
            if len(found) >= count:
                break
            if isinstance(held, bytes):
                found.append(self._packer.leaving(task_id, held))
            elif self.finished(held):
                found.append(leaving(held))
        return found

    # ------------------------------------------------------------------------------ changes
    def add(self, task: Task) -> None:
        self._by_id[task.id] = task
        self._by_owner.setdefault(task.owner, {})[task.id] = None
        if task.message_hash:
            self._by_hash[hash_key(task.message_hash)] = task.id
        self._hold(task)
        self._pack_some(PACK_STEP)

    def remove(self, task: Leaving) -> None:
        self._by_id.pop(task.id, None)
        self._finished.pop(task.id, None)
        self._unknown.pop(task.id, None)  # an entry of the heap is dropped when its time comes
        if task.message_hash and self._by_hash.get(hash_key(task.message_hash)) == task.id:
            del self._by_hash[hash_key(task.message_hash)]
        owned = self._by_owner.get(task.owner)
        if owned is not None:
            owned.pop(task.id, None)
            if not owned:
                del self._by_owner[task.owner]

    def _hold(self, task: Task) -> None:
        """File a task held as an object by whether it has ended, or when it will."""
        if self.finished(task):
            self._finished[task.id] = None
            self._finished.move_to_end(task.id)
            return
        ends = self.ends(task)
        if ends is None:
            self._unknown[task.id] = None
        else:
            heapq.heappush(self._ending, (ends, task.id))

    def _settle(self) -> None:
        """The open tasks that have ended since join the finished ones."""
        now = self.now()
        while self._ending and self._ending[0][0] <= now:
            _, task_id = heapq.heappop(self._ending)
            held = self._by_id.get(task_id)
            if isinstance(held, Task) and task_id not in self._finished:
                self._hold(held)  # finished now, or its path changed (a cancel, a confirmed window)
        for _ in range(min(len(self._unknown), PACK_STEP)):
            task_id = next(iter(self._unknown))
            held = self._by_id.get(task_id)
            if isinstance(held, Task) and self.ends(held) is None and not self.finished(held):
                self._unknown.move_to_end(task_id)
                continue
            del self._unknown[task_id]
            if isinstance(held, Task):
                self._hold(held)

    def _pack_some(self, most: int | None = None) -> None:
        """Pack the least recently used finished tasks beyond `capacity`: at most `most` of them (a request packs a
        few; a jump of the virtual clock, which can finish every task at once, packs them all: `tidy`)."""
        if len(self._finished) + len(self._ending) + len(self._unknown) <= self.capacity:
            return  # even once settled, no finished task would be beyond capacity (stale heap entries only add)
        self._settle()
        count = len(self._finished) - self.capacity
        for _ in range(count if most is None else min(count, most)):
            task_id, _ = self._finished.popitem(last=False)
            held = self._by_id.get(task_id)
            if isinstance(held, Task):
                self._by_id[task_id] = self._packer.pack(held)

    def tidy(self) -> None:
        """Pack every finished task beyond `capacity` (after the clock jumped)."""
        self._pack_some()

    def clear(self) -> None:
        for kept in (self._by_id, self._by_owner, self._by_hash, self._finished, self._unknown):
            kept.clear()
        self._ending.clear()

    # what a shared store's cache needs, nothing here: every task is held and nothing is written
    def pin(self, task_id: str) -> None:
        return None

    def written(self) -> None:
        return None

    @property
    def held(self) -> int:
        """How many tasks are held as objects now (the others are packed)."""
        return sum(isinstance(t, Task) for t in self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
