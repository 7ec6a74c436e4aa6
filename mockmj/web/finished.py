"""The JSON of finished tasks, rendered once.

A task in SUCCESS, FAILURE or CANCEL never changes again: only a reset or an eviction takes it away (and
a full reset may hand its id to a new task). Clients poll such tasks far more often than any other
(bench_compare measures exactly that), so their bytes are kept per base URL (image URLs are absolute)
instead of being serialised again at every fetch. Strict mode checks each remembered answer against a
fresh rendering, so a task that changed after all would fail the test suite, not slip through.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mockmj.model.jsonio import compact
from mockmj.model.tasks import TERMINAL

if TYPE_CHECKING:
    from mockmj.model.tasks import Task

FINISHED = frozenset(status.value for status in TERMINAL)
# Tasks whose bytes are kept, each ~2 KB (per base URL it was fetched from): a bound on memory, not a
# cache of every stored task; the oldest remembered task goes first.
CAPACITY = 4096


class FinishedTasks:
    """Rendered JSON of finished tasks, by task id and base URL; an engine listener, to forget them."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        # task id → (its status, its bytes by base URL): the status feeds the findings of the hot path's fetch
        self._by_id: dict[str, tuple[str, dict[str, bytes]]] = {}
        self._lock = threading.Lock()  # writers only: a read is one dict lookup, atomic under the GIL
        # Bumped by every forgetting: a view read before it (a fetch racing a reset) is not kept after it,
        # since after a seeded reset its id may already name another task.
        self.generation = 0

    def rendered(self, view: dict[str, Any], origin: str, read_at: int) -> bytes | None:
        """The bytes of `view` when its task is finished (rendered on first sight), else None.
        `read_at`: the generation before the view was read from the engine."""
        if view["status"] not in FINISHED:
            return None
        task_id = view["id"]
        kept = self._by_id.get(task_id)
        if kept is not None:
            data = kept[1].get(origin)
            if data is not None:
                return data
        data = compact(view)
        with self._lock:
            if read_at != self.generation:
                return data  # something was forgotten meanwhile: this view may be of a task gone since
            kept = self._by_id.setdefault(task_id, (view["status"], {}))
            kept[1][origin] = data
            while len(self._by_id) > self.capacity:
                self._by_id.pop(next(iter(self._by_id)))
        return data

    def lookup(self, task_id: str, origin: str) -> tuple[str, bytes] | None:
        """The status and bytes kept for this task and base URL, if any (the caller checks ownership)."""
        kept = self._by_id.get(task_id)
        if kept is None:
            return None
        data = kept[1].get(origin)
        return None if data is None else (kept[0], data)

    def forget(self, task_ids: list[str] | set[str], cap: int = 0) -> None:
        """Tasks evicted beyond max_tasks (the engine's `on_evict` hook) or dropped by a reset."""
        with self._lock:
            self.generation += 1
            for task_id in task_ids:
                self._by_id.pop(task_id, None)

    def __len__(self) -> int:
        return len(self._by_id)

    # ----------------------------------------------------------------- the engine's listener protocol
    def reset(self, gone: set[str] | None, key: str | None = None) -> None:
        if gone is None:
            with self._lock:
                self.generation += 1
                self._by_id.clear()
        else:
            self.forget(gone)

    def task_scheduled(self, task: Task, first_index: int) -> None:
        # a task whose path changes is not finished; should one ever be remembered, it is forgotten
        if task.id in self._by_id:
            self.forget([task.id])

    def milestone_reached(self, task: Task, index: int) -> None:
        pass

    def clock_moved(self, now: int) -> None:
        pass
