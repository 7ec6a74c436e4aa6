"""Watching tasks: every snapshot seen through fetch or list-by-condition goes through one observer,
which checks the snapshot and the step from the previous snapshot of the same task."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .checks import TERMINAL, check_buttons, check_compact, check_image, check_step, check_task, short
from .clauses import Recorder
from .client import Client, Exchange
from .dialects import Expectations


@dataclass
class Watched:
    id: str
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    success_checked: bool = False

    @property
    def last(self) -> dict[str, Any] | None:
        return self.snapshots[-1] if self.snapshots else None

    @property
    def terminal(self) -> bool:
        return bool(self.last) and self.last.get("status") in TERMINAL  # type: ignore[union-attr]


class Observer:
    def __init__(self, rec: Recorder, expect: Expectations, local: bool, task_timeout: float) -> None:
        self.rec = rec
        self.expect = expect
        self.local = local
        self.task_timeout = task_timeout
        self.tasks: dict[str, Watched] = {}
        self.image_cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def watched(self, task_id: str) -> Watched:
        with self._lock:
            return self.tasks.setdefault(task_id, Watched(task_id))

    def observe(self, client: Client, task: dict[str, Any], where: str, expected_id: str | None = None) -> None:
        """Check one snapshot (soft: every clause is evaluated, then the failures are raised together)."""
        with self.rec.soft():
            if not check_task(self.rec, task, where, expected_id):
                return
            tid = str(task.get("id") if expected_id is None else expected_id)
            w = self.watched(tid)
            if w.last is not None:
                check_step(self.rec, w.last, task, where)
            w.snapshots.append(task)
            if task.get("status") == "SUCCESS" and not w.success_checked:
                w.success_checked = True
                check_buttons(self.rec, task, where)
                check_image(self.rec, client, task, where, self.image_cache)

    def fetch(self, client: Client, task_id: str) -> dict[str, Any]:
        ex = client.get(f"/mj/task/{task_id}/fetch")
        check_compact(self.rec, ex)
        task = ex.json_or_none() if ex.status == 200 else None
        if not isinstance(task, dict):
            self.rec.fail("TASK-4", f"fetch of task {task_id} (created by this run) did not return it: "
                                    f"{ex.brief()}")
        self.observe(client, task, f"fetch {task_id}", expected_id=task_id)  # type: ignore[arg-type]
        return task  # type: ignore[return-value]

    def list_by_ids(self, client: Client, ids: list[str]) -> tuple[Exchange, list[Any] | None]:
        ex = client.post("/mj/task/list-by-condition", {"ids": ids})
        check_compact(self.rec, ex)
        data = ex.json_or_none()
        return ex, data if isinstance(data, list) else None

    def wait_terminal(self, client: Client, task_id: str, until: float | None = None) -> dict[str, Any]:
        """Poll fetch until the task is terminal; a task still running at the deadline is returned as is."""
        deadline = time.monotonic() + self.task_timeout if until is None else until
        pause, cap = (0.02, 0.5) if self.local else (1.0, 5.0)
        last_status = None
        while True:
            task = self.fetch(client, task_id)
            if task.get("status") in TERMINAL or time.monotonic() >= deadline:
                return task
            key = (task.get("status"), task.get("progress"))
            if key != last_status:
                pause = 0.0 if self.local else 1.0
                last_status = key
            time.sleep(pause)
            pause = min(cap, max(pause * 2, 0.02))


def describe_history(snapshots: list[dict[str, Any]]) -> str:
    return " → ".join(f"{s.get('status')}/{short(s.get('progress'), 8)}" for s in snapshots)
