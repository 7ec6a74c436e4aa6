"""A worker pool that is fair between tenants, for callback deliveries.

A plain FIFO pool lets one tenant's slow or dead receiver take every worker, and then every other
tenant's callbacks wait behind it. Here each tenant has its own queue, at most `per_tenant` of its jobs
run at once, and free workers serve the tenants in turn (round-robin). Jobs of one *lane* (a task) run
one at a time in the order they were submitted, so a task's updates never overtake each other.
Workers are started only when work is waiting and no worker is idle, up to `max_workers`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("mockmj.callbacks")


class Batch:
    """A set of jobs someone waits for (the synchronous sends of `clock/advance`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = 0

    def add(self) -> None:
        with self._cond:
            self._open += 1

    def done(self) -> None:
        with self._cond:
            self._open -= 1
            if self._open <= 0:
                self._cond.notify_all()

    def wait(self, stopped: Callable[[], bool]) -> None:
        with self._cond:
            while self._open > 0 and not stopped():
                self._cond.wait(timeout=0.5)


@dataclass
class Job:
    tenant: str
    lane: str  # jobs of one lane run one at a time, in submission order
    run: Callable[[], None]
    batch: Batch | None = field(default=None, repr=False)


class FairPool:
    def __init__(self, max_workers: int = 32, per_tenant: int = 2, name: str = "mockmj-callback") -> None:
        if per_tenant < 1 or max_workers <= per_tenant:
            raise ValueError("a fair pool needs more workers than one tenant may use")
        self.max_workers, self.per_tenant, self.name = max_workers, per_tenant, name
        self._cond = threading.Condition()
        self._queues: dict[str, deque[Job]] = {}
        self._turns: deque[str] = deque()  # tenants with queued jobs, next to be served first
        self._running: dict[str, int] = {}
        self._busy_lanes: set[str] = set()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def waiting(self, tenant: str) -> int:
        """Jobs of this tenant queued or running."""
        with self._cond:
            return len(self._queues.get(tenant, ())) + self._running.get(tenant, 0)

    def submit(self, job: Job) -> bool:
        """Queue a job; False if the pool is stopped (the job will never run)."""
        with self._cond:
            if self._stopped:
                return False
            if job.batch is not None:
                job.batch.add()
            queue = self._queues.get(job.tenant)
            if queue is None:
                queue = self._queues[job.tenant] = deque()
                self._turns.append(job.tenant)
            queue.append(job)
            if self._idle == 0 and len(self._workers) < self.max_workers:
                worker = threading.Thread(target=self._work, name=f"{self.name}-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
                worker.start()
            else:
                self._cond.notify_all()  # idle workers may be waiting on a busy lane: let all look
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            batches = [job.batch for queue in self._queues.values() for job in queue if job.batch]
            self._queues.clear()
            self._turns.clear()
            self._cond.notify_all()
        for batch in batches:
            batch.done()

    def _next(self) -> Job | None:
        """The first runnable job of the first tenant in turn that may run one more (under the lock)."""
        for tenant in list(self._turns):
            if self._running.get(tenant, 0) >= self.per_tenant:
                continue
            queue = self._queues[tenant]
            for index, job in enumerate(queue):
                if job.lane in self._busy_lanes:
                    continue
                del queue[index]
                self._turns.remove(tenant)
                if queue:
                    self._turns.append(tenant)  # served: to the back of the line
                else:
                    del self._queues[tenant]
                return job
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._next()
                while job is None:
                    if self._stopped:
                        return
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                    job = self._next()
                self._running[job.tenant] = self._running.get(job.tenant, 0) + 1
                self._busy_lanes.add(job.lane)
            try:
                job.run()
            except Exception:  # a bug in one delivery must not kill the worker
                log.exception("callback job failed")
            finally:
                with self._cond:
                    left = self._running[job.tenant] - 1
                    if left:
                        self._running[job.tenant] = left
                    else:
                        del self._running[job.tenant]
                    self._busy_lanes.discard(job.lane)
                    self._cond.notify_all()  # a lane or a tenant's share was freed
                if job.batch is not None:
                    job.batch.done()
