"""The tasks of a world kept in a shared store: a bounded cache of them in memory, the rest read when asked.

Why: with SQLite or Redis the store holds every task, and a worker that held a copy of each would grow with the
store (and each worker would hold the same copy). A worker here holds the tasks it is using: every task it
changed in the current transaction, every unfinished task it met, and up to `capacity` finished ones, the least
recently used leaving first. Any other task is read from the store when asked for, through the store's index of
the task records (store/base.py): by id, an owner's newest, an owner's open tasks, the oldest finished, by the
image hash its files carry.

Consistency: the replica (replica.py) catches up before every read and in every transaction; a changed record of
a task this worker holds replaces its copy, one it does not hold is not read at all. A task read from the store is
at least as new as the version the worker caught up to, so a copy never goes backwards.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from mockmj.engine import codec
from mockmj.model.tasks import Leaving, Task, leaving
from mockmj.store.base import Store, StoreUnavailable

DEFAULT_CAPACITY = 2_000  # finished tasks a worker keeps decoded; each is 2–3 KB in memory


class StoredTasks:
    def __init__(self, store: Store, finished: Callable[[Task], bool], now: Callable[[], int],
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self.store = store
        self.finished = finished  # whether a task has ended by now (the world's clock and timing)
        self.now = now
        self.capacity = capacity
        self._hot: OrderedDict[str, Task] = OrderedDict()
        self._pinned: set[str] = set()  # changed in the transaction under way: kept until it is written
        self._new: set[str] = set()  # added by the transaction under way: not in the store's index yet

    # ------------------------------------------------------------------------------ by id
    def get(self, task_id: str) -> Task | None:
        task = self._hot.get(task_id)
        if task is not None:
            self._hot.move_to_end(task_id)
            return task
        task = self._read(task_id)
        if task is not None:
            # room first: the task just read must not be the one let go (held only by the caller, a change to it
            # in the transaction under way would then be written as its deletion)
            self.tidy(room=1)
            self._hot[task_id] = task
        return task

    def owned(self, owner: str, task_id: str) -> Task | None:
        task = self.get(task_id)
        return task if task is not None and task.owner == owner else None

    def local(self, task_id: str) -> Task | None:
        """The copy this worker holds, or None (never read from the store): what a transaction writes."""
        return self._hot.get(task_id)

    def pin(self, task_id: str) -> None:
        """A task changed by the transaction under way: held until the transaction is written (`written`)."""
        self._pinned.add(task_id)

    def written(self) -> None:
        self._pinned.clear()
        self._new.clear()
        self.tidy()

    def _read(self, task_id: str) -> Task | None:
        value = self.store.record("task:" + task_id)
        if value is None:
            return None
        try:
            task = codec.loads(value)
        except codec.RecordError as exc:
            raise StoreUnavailable(self.store.url, f"record 'task:{task_id}': {exc}") from None
        if not isinstance(task, Task):
            raise StoreUnavailable(self.store.url, f"record 'task:{task_id}' holds no task")
        return task

    def _many(self, ids: list[str]) -> list[Task]:
        return [task for task in map(self.get, ids) if task is not None]

    # ------------------------------------------------------------------------------ changes
    def add(self, task: Task) -> None:
        self._hot[task.id] = task
        self._hot.move_to_end(task.id)
        self._new.add(task.id)

    def remove(self, task: Leaving) -> None:
        self._hot.pop(task.id, None)
        self._new.discard(task.id)

    def install(self, task_id: str, value: bytes | None) -> None:
        """Another worker wrote this task (None: deleted it): a copy held here is replaced; no other is read."""
        if task_id not in self._hot:
            return
        if value is None:
            del self._hot[task_id]
            return
        try:
            task = codec.loads(value)
        except codec.RecordError as exc:
            raise StoreUnavailable(self.store.url, f"record 'task:{task_id}': {exc}") from None
        self._hot[task_id] = task

    def clear(self) -> None:
        self._hot.clear()
        self._pinned.clear()
        self._new.clear()

    def tidy(self, room: int = 0) -> None:
        """Down to `capacity` finished tasks (less `room`, for tasks about to be held): the least recently used
        finished ones go (an unfinished or a pinned task stays: it is in use). Also the world's call after the
        clock jumped, as on TaskIndex."""
        excess = len(self._hot) + room - self.capacity
        if excess <= 0:
            return
        for task_id in list(self._hot):
            if excess <= 0:
                break
            if task_id not in self._pinned and self.finished(self._hot[task_id]):
                del self._hot[task_id]
                excess -= 1

    @property
    def held(self) -> int:
        """How many tasks this worker holds in memory now."""
        return len(self._hot)

    # ------------------------------------------------------------------------------ queries through the index
    def __len__(self) -> int:
        return self.store.task_total() + len(self._new)

    def newest_of(self, owner: str, limit: int) -> list[Task]:
        return self._many(self.store.task_ids(owner, newest_first=True, limit=limit))

    def open_of(self, owner: str) -> list[Task]:
        return [t for t in self._many(self.store.task_ids(owner, open_at=self.now())) if not self.finished(t)]

    def leaving_owner(self, owner: str) -> list[Leaving]:
        return [leaving(t) for t in self._many(self.store.task_ids(owner))]

    def leaving_oldest(self, count: int) -> list[Leaving]:
        return [leaving(t) for t in self._many(self.store.task_ids(ended_by=self.now(), limit=count))]

    def newest(self, limit: int, owner: str | None = None) -> list[Task]:
        """The latest `limit` submissions (of one owner, or of all), newest first, read without filling the cache
        (the dashboard's list)."""
        if limit <= 0:
            return []
        found = (self._hot.get(i) or self._read(i) for i in self.store.task_ids(owner, newest_first=True, limit=limit))
        return [task for task in found if task is not None]

    def by_hash(self, image_hash: str) -> Task | None:
        task_id = self.store.task_by_hash(image_hash)
        return self.get(task_id) if task_id is not None else None
