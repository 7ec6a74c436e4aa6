"""notifyHook callbacks: when they fall due, how they are sent, and the outbox that records them.

Upstream semantics: the full task JSON is POSTed to the task's notifyHook (or the global hook) on
SUBMITTED, on every progress step and on the final state; nothing at NOT_START; no retry; an update
whose order is lower than the last one sent for the task is dropped (equal order is still sent).

Callbacks fall due at milestone times. In real-time profiles a scheduler thread sleeps until the next
one; with a virtual clock only `clock/advance` moves time, and it sends everything that fell due (each
attempt with a 3 s timeout) before the control call returns. Otherwise sending runs on a bounded pool,
so a slow or dead receiver never slows the public API.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from .jsonio import compact
from .tasks import Milestone, Status, Task

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("mockmj.callbacks")

ORDER = {Status.NOT_START: 0, Status.MODAL: 0, Status.SUBMITTED: 1, Status.IN_PROGRESS: 3,
         Status.SUCCESS: 4, Status.FAILURE: 4, Status.CANCEL: 4}
FAULTS = ("drop", "duplicate", "delay", "reorder")
SEND_TIMEOUT_S = 10.0
SYNC_SEND_TIMEOUT_S = 3.0
RETRY_DELAYS_S = (0.5, 1.0, 2.0)
MAX_PENDING = 2000


def _order(m: Milestone) -> float:
    value = ORDER[m.status]
    if m.status is Status.IN_PROGRESS and m.progress:
        value += int(m.progress.rstrip("%")) / 100
    return value


@dataclass(frozen=True)
class _Attempt:
    """Where one callback goes and what the outbox records about it."""

    task_id: str
    key: str
    url: str
    fault: str | None
    generation: int


@dataclass(order=True)
class _Due:
    at: int
    seq: int
    task_id: str = ""
    index: int = 0


class Callbacks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outbox: deque[dict[str, Any]] = deque(maxlen=engine.settings.outbox_size)
        self.total = 0
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._last_order: dict[str, float] = {}
        self._held: dict[str, tuple[str, dict[str, Any], Milestone]] = {}  # reorder fault
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mockmj-callback")
        self._pending = 0
        self._generation = 0  # bumped by a full reset: attempts still in flight then are not recorded
        self._timers: set[threading.Timer] = set()
        self._stopped = False
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="mockmj-callback-clock", daemon=True)
        self._thread.start()
        engine.listeners.append(self)

    # ------------------------------------------------------------------------ engine listener
    def task_scheduled(self, task: Task, first_index: int) -> None:
        if not self._hook(task):
            return
        with self._cond:
            for index in range(max(1, first_index), len(task.milestones)):
                m = task.milestones[index]
                if m.at is not None and m.status not in (Status.NOT_START, Status.MODAL):
                    heapq.heappush(self._heap, _Due(m.at, next(self._seq), task.id, index))
            self._cond.notify()
        if self.engine.clock.virtual:
            self._drain(self.engine.now(), synchronous=False)  # e.g. a cancel, due at once

    def milestone_reached(self, task: Task, index: int) -> None:
        """Per-poll timing: the poll that moved the task sends its callback, off the request thread."""
        if self._hook(task) and task.milestones[index].status not in (Status.NOT_START, Status.MODAL):
            with self._cond:
                heapq.heappush(self._heap, _Due(task.milestones[index].at or 0, next(self._seq), task.id, index))
                self._cond.notify()

    def clock_moved(self, now: int) -> None:
        """Advancing the clock: send everything that fell due, in time order, before returning."""
        self._drain(now, synchronous=True)
        with self._cond:
            self._cond.notify()

    def reset(self, gone: set[str] | None) -> None:
        with self._cond:
            if gone is None:
                self._generation += 1
                self._heap.clear()
                self.outbox.clear()
                self.total = 0
                self._last_order.clear()
                self._held.clear()
            else:
                self._heap = [d for d in self._heap if d.task_id not in gone]
                heapq.heapify(self._heap)
                for task_id in gone:
                    self._last_order.pop(task_id, None)
                    self._held.pop(task_id, None)
                self.outbox = deque((e for e in self.outbox if e["taskId"] not in gone), maxlen=self.outbox.maxlen)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if self in self.engine.listeners:
            self.engine.listeners.remove(self)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._thread.join(timeout=1)
        self._session.close()

    # ------------------------------------------------------------------------ scheduling
    def _hook(self, task: Task) -> str | None:
        return task.properties.get("notifyHook") or None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                if self.engine.clock.virtual:
                    # virtual time moves only in advance(), which sends what fell due itself, in order
                    self._cond.wait(timeout=0.5)
                    continue
                wait = 0.5
                if self._heap:
                    wait = (self._heap[0].at - self.engine.now()) / 1000
                if wait > 0:
                    self._cond.wait(timeout=min(wait, 0.5))  # woken early when something new is due
                    continue
            self._drain(self.engine.now(), synchronous=False)

    def _drain(self, now: int, synchronous: bool) -> None:
        while True:
            with self._cond:
                if not self._heap or self._heap[0].at > now:
                    return
                due = heapq.heappop(self._heap)
            self._deliver(due, synchronous)

    def _deliver(self, due: _Due, synchronous: bool) -> None:
        engine = self.engine
        with engine.lock:  # every decision about this task's callbacks is taken under the engine's lock
            task = engine.store.get(due.task_id)
            if task is None or due.index >= len(task.milestones) or task.milestones[due.index].at != due.at:
                return  # the task was reset or its path was cut by a cancel
            milestone = task.milestones[due.index]
            order = _order(milestone)
            if order < self._last_order.get(task.id, -1):
                return  # upstream never sends an update that goes backwards
            if order >= 4:
                self._last_order.pop(task.id, None)  # terminal: nothing can follow, keep the map small
            else:
                self._last_order[task.id] = order
            payload = engine.snapshot(task, task.origin, due.index)
            attempt = _Attempt(task.id, task.owner, self._hook(task) or "", task.callback_fault,
                               self._generation)
            delay_ms = int(task.callback_delay_ms or 2000)
            final = milestone.status in (Status.SUCCESS, Status.FAILURE, Status.CANCEL)
            sends = [(payload, milestone)]
            if attempt.fault == "drop" and final:
                sends = []
            elif attempt.fault == "duplicate":
                sends.append((payload, milestone))
            elif attempt.fault == "reorder":
                held = self._held.pop(task.id, None)
                if held is None and not final:
                    self._held[task.id] = (attempt.url, payload, milestone)
                    sends = []
                elif held is not None:
                    sends.append((held[1], held[2]))  # the earlier update arrives after the later one
        if attempt.fault == "drop" and final:
            self._record(attempt, payload, milestone, 0, None, "dropped by fault", None)
        for body, m in sends:
            if attempt.fault == "delay" and not synchronous:
                self._later(delay_ms / 1000, attempt, body, m)
            else:
                self._submit(attempt, body, m, synchronous)

    def _later(self, seconds: float, attempt: _Attempt, payload: dict[str, Any], m: Milestone) -> None:
        def fire() -> None:
            with self._cond:
                self._timers.discard(timer)
            self._submit(attempt, payload, m, False)

        timer = threading.Timer(seconds, fire)
        with self._cond:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def _submit(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, synchronous: bool) -> None:
        if synchronous:
            self._send(attempt, payload, m, SYNC_SEND_TIMEOUT_S)
            return
        with self._cond:
            if self._pending >= MAX_PENDING:
                overflow = True
            else:
                overflow = False
                self._pending += 1
        if overflow:
            self._record(attempt, payload, m, 0, None, "outbox overflow: not sent", None)
            return
        try:
            self._pool.submit(self._send_and_release, attempt, payload, m)
        except RuntimeError:  # the pool is shut down: the mock is stopping
            with self._cond:
                self._pending -= 1

    def _send_and_release(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone) -> None:
        try:
            self._send(attempt, payload, m, SEND_TIMEOUT_S)
        finally:
            with self._cond:
                self._pending -= 1

    def _send(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, timeout: float) -> None:
        tries = 1 + (len(RETRY_DELAYS_S) if self.engine.settings.callback_policy == "retry" else 0)
        for number in range(1, tries + 1):
            started = time.perf_counter()
            status, error = None, None
            try:
                response = self._session.post(attempt.url, data=compact(payload), timeout=timeout,
                                              headers={"Content-Type": "application/json"})
                status = response.status_code
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
            latency = round((time.perf_counter() - started) * 1000, 2)
            self._record(attempt, payload, m, number, status, error, latency)
            if error is None and status is not None and 200 <= status < 300:
                return
            if number < tries:
                time.sleep(RETRY_DELAYS_S[number - 1])

    def _record(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, number: int,
                status: int | None, error: str | None, latency: float | None) -> None:
        with self._cond:
            if attempt.generation != self._generation:
                return  # sent before a full reset: not part of the new world's outbox
            self.total += 1
            self.outbox.append({
                "seq": self.total, "taskId": attempt.task_id, "key": attempt.key, "url": attempt.url,
                "status": m.status.value, "progress": m.progress, "attempt": number, "httpStatus": status,
                "error": error, "latencyMs": latency, "time": m.at or 0, "fault": attempt.fault,
                "payload": payload,
            })

    def entries(self, task_id: str | None = None, limit: int | None = None,
                key: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            items = [e for e in self.outbox
                     if (task_id is None or e["taskId"] == task_id) and (key is None or e["key"] == key)]
        if limit is not None:
            items = items[-limit:] if limit else []
        return items
