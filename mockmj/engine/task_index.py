"""The tasks of a world held whole in this process (the memory store): O(1) by id, each owner's tasks in
submission order, and the image hash each task's files carry. stored_tasks.py answers the same questions for a
shared store.

Finished tasks are kept compactly. A task object with its strings costs about 2 KB, and a finished task is
rarely read again; so past `capacity` tasks held as objects, the least recently used finished ones are packed
(their field values, pickled and compressed against the first packed task as a preset dictionary: about 200
bytes) and unpacked when read. Pickle is safe here: the bytes are made by this process from its own objects and
never leave it (records that leave it, in a shared store, are JSON: codec.py). A finished task never changes
again except through `get` (a refund, a reset), which unpacks it first.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator

from mockmj.model.tasks import Task

FIELDS = tuple(f.name for f in dataclasses.fields(Task))
DEFAULT_CAPACITY = 2_000


def hash_key(image_hash: str) -> int:
    """An image hash (a UUID) as a number: the index's key, half the size of the string."""
    try:
        return int(image_hash.replace("-", ""), 16)
    except ValueError:
        return hash(image_hash)  # not a UUID (a task made by hand): still a key, confirmed by the path anyway


class Packer:
    """Finished tasks to bytes and back. The first task packed is the preset dictionary of every later one: tasks
    share most of their bytes (field layout, account ids, origins), so each then packs to a couple hundred."""

    def __init__(self) -> None:
        self._dictionary: bytes | None = None

    def pack(self, task: Task) -> bytes:
        raw = pickle.dumps(tuple(getattr(task, name) for name in FIELDS), protocol=5)
        if self._dictionary is None:
            self._dictionary = raw
        packer = zlib.compressobj(6, zdict=self._dictionary)
        return packer.compress(raw) + packer.flush()

    def unpack(self, data: bytes) -> Task:
        assert self._dictionary is not None  # something was packed before anything is unpacked
        values = pickle.loads(zlib.decompressobj(zdict=self._dictionary).decompress(data))  # bytes of our own
        task = Task.__new__(Task)
        for name, value in zip(FIELDS, values, strict=True):
            object.__setattr__(task, name, value)
        task.owner, task.origin = sys.intern(task.owner), task.origin  # one string per owner and base URL again
        return task


class TaskIndex:
    def __init__(self, finished: Callable[[Task], bool], capacity: int = DEFAULT_CAPACITY) -> None:
        self.finished = finished  # whether a task has ended by now (the world's clock and timing)
        self.capacity = capacity  # tasks held as objects before finished ones are packed
        self._by_id: dict[str, Task | bytes] = {}  # insertion order: submission order
        self._objects: OrderedDict[str, None] = OrderedDict()  # ids held as objects, least recently used first
        self._by_owner: dict[str, dict[str, None]] = {}
        self._by_hash: dict[int, str] = {}  # image hash → task id: which task a file path names
        self._packer = Packer()

    # ------------------------------------------------------------------------------ by id
    def get(self, task_id: str) -> Task | None:
        held = self._by_id.get(task_id)
        if held is None:
            return None
        if isinstance(held, bytes):
            held = self._packer.unpack(held)
            self._by_id[task_id] = held
            self._objects[task_id] = None
            self._pack_some()
        else:
            self._objects.move_to_end(task_id)
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
    def of_owner(self, owner: str) -> list[Task]:
        return [self._peek(i) for i in self._by_owner.get(owner, {})]

    def newest_of(self, owner: str, limit: int) -> list[Task]:
        # the latest submissions, then in submit-time order (stable: submission order within a millisecond)
        latest = list(self._by_owner.get(owner, {}))[-limit:] if limit > 0 else []
        return sorted(map(self._peek, latest), key=lambda t: t.submit_time)[::-1]

    def open_of(self, owner: str) -> list[Task]:
        # a packed task is finished: only the tasks held as objects can still be open
        found = (self._by_id[i] for i in self._by_owner.get(owner, {}))
        return [t for t in found if isinstance(t, Task) and not self.finished(t)]

    def oldest(self) -> Iterator[Task]:
        """Every task, oldest submission first."""
        return map(self._peek, list(self._by_id))

    def oldest_finished(self, count: int) -> list[Task]:
        found: list[Task] = []
        for task_id, held in self._by_id.items():
            if len(found) >= count:
                break
            if isinstance(held, bytes) or self.finished(held):
                found.append(self._peek(task_id))
        return found

    # ------------------------------------------------------------------------------ changes
    def add(self, task: Task) -> None:
        self._by_id[task.id] = task
        self._objects[task.id] = None
        self._objects.move_to_end(task.id)
        self._by_owner.setdefault(task.owner, {})[task.id] = None
        if task.message_hash:
            self._by_hash[hash_key(task.message_hash)] = task.id
        self._pack_some()

    def remove(self, task: Task) -> None:
        self._by_id.pop(task.id, None)
        self._objects.pop(task.id, None)
        if task.message_hash and self._by_hash.get(hash_key(task.message_hash)) == task.id:
            del self._by_hash[hash_key(task.message_hash)]
        owned = self._by_owner.get(task.owner)
        if owned is not None:
            owned.pop(task.id, None)
            if not owned:
                del self._by_owner[task.owner]

    def _pack_some(self) -> None:
        """Past `capacity` objects, pack the least recently used finished ones. An open task stays an object and
        goes to the back of the line; a call looks at a few more tasks than it must pack, never at them all (a
        mock of 100,000 queued tasks must not scan them at every submission)."""
        excess = len(self._objects) - self.capacity
        for _ in range(excess + 8 if excess > 0 else 0):
            if excess <= 0 or not self._objects:
                break
            task_id = next(iter(self._objects))
            task = self._by_id[task_id]
            assert isinstance(task, Task)
            if self.finished(task):
                self._by_id[task_id] = self._packer.pack(task)
                del self._objects[task_id]
                excess -= 1
            else:
                self._objects.move_to_end(task_id)

    def clear(self) -> None:
        self._by_id.clear()
        self._objects.clear()
        self._by_owner.clear()
        self._by_hash.clear()

    # what a shared store's cache needs, nothing here: every task is held and nothing is written
    def pin(self, task_id: str) -> None:
        return None

    def written(self) -> None:
        return None

    @property
    def held(self) -> int:
        """How many tasks are held as objects now (the others are packed)."""
        return len(self._objects)

    def __len__(self) -> int:
        return len(self._by_id)
