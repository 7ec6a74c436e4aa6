"""The local index of tasks: O(1) by id, with each owner's tasks kept in submission order."""

from __future__ import annotations

from collections.abc import Iterator

from mockmj.model.tasks import Task


class TaskIndex:
    def __init__(self) -> None:
        self._by_id: dict[str, Task] = {}
        self._by_owner: dict[str, dict[str, Task]] = {}

    def add(self, task: Task) -> None:
        self._by_id[task.id] = task
        self._by_owner.setdefault(task.owner, {})[task.id] = task

    def put(self, task: Task) -> None:
        """Add, or replace a task of the same id in its place (a newer copy from a shared store)."""
        if task.id in self._by_id:
            self._by_id[task.id] = task
            self._by_owner[task.owner][task.id] = task
        else:
            self.add(task)

    def get(self, task_id: str) -> Task | None:
        return self._by_id.get(task_id)

    def owned(self, owner: str, task_id: str) -> Task | None:
        """A task only its owner may see: another key's task looks like no task at all."""
        task = self._by_id.get(task_id)
        return task if task is not None and task.owner == owner else None

    def of_owner(self, owner: str) -> Iterator[Task]:
        return iter(self._by_owner.get(owner, {}).values())

    def oldest(self) -> Iterator[Task]:
        """Every task, oldest submission first (dicts keep insertion order)."""
        return iter(list(self._by_id.values()))

    def remove(self, task: Task) -> None:
        self._by_id.pop(task.id, None)
        owned = self._by_owner.get(task.owner)
        if owned is not None:
            owned.pop(task.id, None)
            if not owned:
                del self._by_owner[task.owner]

    def drop_owner(self, owner: str) -> list[Task]:
        tasks = list(self._by_owner.pop(owner, {}).values())
        for task in tasks:
            self._by_id.pop(task.id, None)
        return tasks

    def clear(self) -> None:
        self._by_id.clear()
        self._by_owner.clear()

    def __len__(self) -> int:
        return len(self._by_id)
