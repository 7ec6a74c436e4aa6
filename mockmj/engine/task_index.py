"""The tasks of a world held whole in this process (the memory store): O(1) by id, each owner's tasks in
submission order, and the image hash each task's files carry. stored_tasks.py answers the same questions for a
shared store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mockmj.model.tasks import Task


class TaskIndex:
    def __init__(self, finished: Callable[[Task], bool]) -> None:
        self.finished = finished  # whether a task has ended by now (the world's clock and timing)
        self._by_id: dict[str, Task] = {}
        self._by_owner: dict[str, dict[str, Task]] = {}
        self._by_hash: dict[str, str] = {}  # image hash → task id: which task a file path names

    def add(self, task: Task) -> None:
        self._by_id[task.id] = task
        self._by_owner.setdefault(task.owner, {})[task.id] = task
        if task.message_hash:
            self._by_hash[task.message_hash] = task.id

    def get(self, task_id: str) -> Task | None:
        return self._by_id.get(task_id)

    local = get  # every task is held here

    def owned(self, owner: str, task_id: str) -> Task | None:
        """A task only its owner may see: another key's task looks like no task at all."""
        task = self._by_id.get(task_id)
        return task if task is not None and task.owner == owner else None

    def by_hash(self, image_hash: str) -> Task | None:
        task_id = self._by_hash.get(image_hash)
        return self._by_id.get(task_id) if task_id is not None else None

    def of_owner(self, owner: str) -> list[Task]:
        return list(self._by_owner.get(owner, {}).values())

    def newest_of(self, owner: str, limit: int) -> list[Task]:
        # a stable sort keeps submission order among tasks of the same millisecond
        return sorted(self._by_owner.get(owner, {}).values(), key=lambda t: t.submit_time)[::-1][:limit]

    def open_of(self, owner: str) -> list[Task]:
        return [t for t in self._by_owner.get(owner, {}).values() if not self.finished(t)]

    def oldest(self) -> Iterator[Task]:
        """Every task, oldest submission first (dicts keep insertion order)."""
        return iter(list(self._by_id.values()))

    def oldest_finished(self, count: int) -> list[Task]:
        found: list[Task] = []
        for task in self._by_id.values():
            if len(found) >= count:
                break
            if self.finished(task):
                found.append(task)
        return found

    def remove(self, task: Task) -> None:
        self._by_id.pop(task.id, None)
        if task.message_hash and self._by_hash.get(task.message_hash) == task.id:
            del self._by_hash[task.message_hash]
        owned = self._by_owner.get(task.owner)
        if owned is not None:
            owned.pop(task.id, None)
            if not owned:
                del self._by_owner[task.owner]

    def clear(self) -> None:
        self._by_id.clear()
        self._by_owner.clear()
        self._by_hash.clear()

    # what a shared store's cache needs, nothing here: every task is held and nothing is written
    def pin(self, task_id: str) -> None:
        return None

    def written(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._by_id)
