"""notifyHook callbacks: when they fall due, how they are sent, and the outbox that records them.

Upstream semantics: the full task JSON is POSTed to the task's notifyHook (or the global hook) on
SUBMITTED, on every progress step and on the final state; nothing at NOT_START; no retry; an update
whose order is lower than the last one sent for the task is dropped (equal order is still sent).

Callbacks fall due at milestone times. In real-time profiles a scheduler thread sleeps until the next
one; with a virtual clock only `clock/advance` moves time, and it sends everything that fell due (each
attempt with a 3 s timeout) before the control call returns. Either way sending runs on a pool that is
fair between tenants (see fairpool.py): a slow or dead receiver never slows the public API, and one
tenant's receiver never delays another tenant's callbacks; a task's own updates still go one at a time,
in order. The due callbacks and the outbox live in the store, whichever it is (the memory store keeps them
in this process, store/memory.py): a task's due callbacks are claimed with a lease on the task (store/base.py),
so no worker sends a later update of a task while it, or another worker, still sends an earlier one. A callback
is deleted from the store once settled, so each goes once, whatever the number of workers; if a worker dies, its
lease runs out (LEASE_S) and another sends what it had not settled (at least once: the one on the wire at its
death may go twice).

Lock order (one order for the whole mock; a lock is only taken while holding the ones before it):

1. the engine's lock (`Engine.lock`, taken by `Engine.transaction()` / `reading()`);
2. the store's write lock (`Store.exclusive()`: the SQLite file's process lock, then SQLite's own write lock;
   Redis's lock);
3. leaves, held only around in-memory work and never while calling the store, the engine or the network:
   `Callbacks._cond`, the memory store's lock, the pool's condition.

The callback clock and the pool's threads call the store (claims, the outbox) holding no lock of this module,
so a request that holds the engine and the store and then schedules callbacks never waits for a thread that
waits for the store.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_chain, wait_fixed

from mockmj.engine.callbacks.fairpool import Batch, FairPool, Job
from mockmj.model.jsonio import compact
from mockmj.model.tasks import Milestone, Status, Task
from mockmj.store.base import StoreUnavailable

if TYPE_CHECKING:
    from mockmj.engine.facade import Engine
    from mockmj.store.base import Store

log = logging.getLogger("mockmj.callbacks")

ORDER = {Status.NOT_START: 0, Status.MODAL: 0, Status.SUBMITTED: 1, Status.IN_PROGRESS: 3,
         Status.SUCCESS: 4, Status.FAILURE: 4, Status.CANCEL: 4}
FAULTS = ("drop", "duplicate", "delay", "reorder")
SEND_TIMEOUT_S = 10.0
SYNC_SEND_TIMEOUT_S = 3.0
RETRY_DELAYS_S = (0.5, 1.0, 2.0)
MAX_PENDING = 1000  # callbacks of one tenant waiting to be sent; beyond it they are recorded as overflow
WORKERS = 32
# How long a claim holds a task's later callbacks back from other workers if its worker dies before releasing it:
# longer than the longest send (the retry policy: 4 tries of SEND_TIMEOUT_S plus the pauses).
LEASE_S = 60.0
LOOK_AGAIN_S = 0.05  # the clock thread's longest sleep: other workers add and release without waking this one
ERROR_PAUSE_S = 0.5  # the clock thread's pause after a store error, before it tries again
PER_TENANT = 2  # sends of one tenant in flight at once: a slow receiver holds at most this many workers
OUTBOX = "outbox"  # the store's log that records the sends


class _NotDelivered(Exception):
    """The receiver did not answer 2xx: what the retry policy retries on."""


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


@dataclass
class _Due:
    """A callback that fell due: its store value is (at, seq, task_id, index, owner)."""

    at: int
    seq: int
    task_id: str
    index: int
    owner: str  # the tenant: whose queue the send waits in
    handle: Any = None  # the store's name for it, to delete it once sent


@dataclass
class _Claim:
    """One task's callbacks in one claim: how many are still to settle, which were settled (sent, or decided
    not to be), and whether a store error stopped the rest (they stay due, in order, for a later claim)."""

    left: int = 0
    done: list[Any] = field(default_factory=list)
    stalled: bool = False


class Callbacks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store: Store = engine.world.store  # the outbox and the due callbacks, whichever the store
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._last_order: dict[str, float] = {}
        self._held: dict[str, tuple[str, dict[str, Any], Milestone]] = {}  # reorder fault
        self._unreleased: list[tuple[str, list[Any]]] = []  # settled claims not yet released (a store error)
        self._claims = 0  # claims (one task's callbacks each) this worker holds: taken, not yet released
        self._released = 0  # releases so far: what a synchronous drain waits on
        self._pool = FairPool(WORKERS, PER_TENANT)
        self._generation = 0  # bumped by a full reset: attempts still in flight then are not recorded
        self._timers: set[threading.Timer] = set()
        self._stopped = False
        self._stopping = threading.Event()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=WORKERS, pool_maxsize=WORKERS)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._thread = threading.Thread(target=self._run, name="mockmj-callback-clock", daemon=True)
        self._thread.start()
        engine.world.listeners.append(self)

    @property
    def total(self) -> int:
        return self.store.total(OUTBOX)

    # ------------------------------------------------------------------------ engine listener
    def task_scheduled(self, task: Task, first_index: int) -> None:
        if not self._hook(task):
            return
        due = []
        for index in range(max(1, first_index), len(task.milestones)):
            m = task.milestone(index)
            if m.at is not None and m.status not in (Status.NOT_START, Status.MODAL):
                due.append(_Due(m.at, next(self._seq), task.id, index, task.owner))
        self._push(due)
        if self.engine.world.clock.virtual:
            self._drain(self.engine.now(), synchronous=False)  # e.g. a cancel, due at once

    def milestone_reached(self, task: Task, index: int) -> None:
        """Per-poll timing: the poll that moved the task sends its callback, off the request thread."""
        if self._hook(task) and task.milestones[index].status not in (Status.NOT_START, Status.MODAL):
            self._push([_Due(task.milestones[index].at or 0, next(self._seq), task.id, index, task.owner)])

    def _push(self, due: list[_Due]) -> None:
        # The store is written outside `_cond` (see the lock order in the module's docstring): the caller may be
        # inside a store transaction, and the clock thread must be able to take `_cond` meanwhile.
        if due:
            self.store.add_due([(d.at, d.owner, d.task_id, (d.at, d.seq, d.task_id, d.index, d.owner)) for d in due])
            with self._cond:
                self._cond.notify()

    def clock_moved(self, now: int) -> None:
        """Advancing the clock: send everything that fell due, in time order, before returning."""
        self._drain(now, synchronous=True)
        with self._cond:
            self._cond.notify()

    def reset(self, gone: set[str] | None, key: str | None = None) -> None:
        """Everything (gone is None), or one tenant's tasks (`gone`, all of tenant `key`'s): their due callbacks
        and outbox entries are dropped from the store by the worker whose transaction made the reset; a worker
        that merely reloads the new world another worker made (a replica of a shared store) clears only what it
        keeps itself. The memory store's world is never reloaded: its resets are always this worker's."""
        with self._cond:
            if gone is None:
                self._generation += 1  # first: an attempt that settles from now on is not recorded
                self._last_order.clear()
                self._held.clear()
            else:
                for task_id in gone:
                    self._last_order.pop(task_id, None)
                    self._held.pop(task_id, None)
        world = self.engine.world
        if world.replica is None or world.writing:
            self.store.drop_due(key)  # outside `_cond` (the lock order); key is None when gone is
            self.store.clear_log(OUTBOX, key)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._stopping.set()
            self._cond.notify()
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if self in self.engine.world.listeners:
            self.engine.world.listeners.remove(self)
        self._pool.stop()
        self._thread.join(timeout=1)
        self._session.close()

    # ------------------------------------------------------------------------ scheduling
    def _hook(self, task: Task) -> str | None:
        return task.properties.get("notifyHook") or None

    def _run(self) -> None:
        """The callback clock: until stopped, send what fell due. A store error (Redis gone for a while, SQLite
        busy or full) is logged and the loop carries on: callbacks resume when the store answers again."""
        while not self._stopped:
            try:
                self._tick()
            except Exception:
                log.warning("callbacks: the store failed; trying again in %.1f s", ERROR_PAUSE_S, exc_info=True)
                self._stopping.wait(ERROR_PAUSE_S)

    def _tick(self) -> None:
        if self._unreleased:
            self._settle_store()
        if self.engine.world.clock.virtual:
            # virtual time moves only in advance(), which sends what fell due itself, in order
            with self._cond:
                if not self._stopped:
                    self._cond.wait(timeout=0.5)
            return
        next_at = self.store.next_due()  # asked outside `_cond`: the store may wait for another worker
        wait = 0.5 if next_at is None else (next_at - self.engine.now()) / 1000
        if wait > 0:
            # other workers add to a shared store without waking this one: look again soon
            with self._cond:
                if not self._stopped:
                    self._cond.wait(timeout=min(wait, LOOK_AGAIN_S))  # woken early when something new is due
            return
        if not self._drain(self.engine.now(), synchronous=False):
            # what is due is claimed by others, or by this worker's sends still going (woken when they settle)
            with self._cond:
                if not self._stopped:
                    self._cond.wait(timeout=LOOK_AGAIN_S)

    def _drain(self, now: int, synchronous: bool) -> int:
        """Queue every send that fell due; when `synchronous`, return only once they are all done. Each task's
        claimed callbacks go to one lane of the pool, in order; the last of them releases the task's claim.
        The number of callbacks taken."""
        if not synchronous:
            return self._queue(now, None)
        batch = Batch()
        count = self._queue(now, batch)
        batch.wait(lambda: self._pool.stopped)
        # What fell due of a task whose earlier callbacks this worker still sends (an earlier claim's, not
        # finished) is leased until that claim settles: it is claimed then, and sent before advancing returns.
        while self._await_release(now):
            batch = Batch()
            count += self._queue(now, batch)
            batch.wait(lambda: self._pool.stopped)
        return count

    def _await_release(self, now: int) -> bool:
        """Whether something fell due that this worker may claim once a claim of its own is released; if so, wait
        for the next release. False when nothing is left, or what is left is another worker's claim."""
        next_at = self.store.next_due()
        if next_at is None or next_at > now:
            return False
        with self._cond:
            if self._claims == 0 or self._stopped:
                return False
            released = self._released
            return self._cond.wait_for(lambda: self._released != released or self._stopped,
                                       timeout=LEASE_S) and not self._stopped

    def _queue(self, now: int, batch: Batch | None) -> int:
        """Claim what fell due and queue its sends (in `batch`, when given); the number of callbacks taken."""
        synchronous = batch is not None
        taken = [_Due(*value, handle=handle) for handle, value in self.store.claim_due(now, LEASE_S)]
        claims: dict[str, _Claim] = {}
        for due in taken:
            claims.setdefault(due.task_id, _Claim()).left += 1
        if claims:
            with self._cond:
                self._claims += len(claims)
        for due in taken:
            claim = claims[due.task_id]
            if batch is None and self._pool.waiting(due.owner) >= MAX_PENDING:
                self._settle(due, synchronous, claim, overflow=True)  # decided and recorded, not sent
                continue
            job = Job(due.owner, due.task_id,
                      lambda due=due, claim=claim: self._settle(due, synchronous, claim), batch)
            self._pool.submit(job)
        return len(taken)

    def _settle(self, due: _Due, synchronous: bool, claim: _Claim, overflow: bool = False) -> None:
        """Deliver one claimed callback. When the store fails meanwhile it is not lost: it (and every later one of
        its task in this claim, so that none overtakes it) stays due, for a later claim once the store answers."""
        try:
            if not claim.stalled:
                self._deliver(due, synchronous, overflow)
                self._done(due, claim)
        except StoreUnavailable as exc:
            log.warning("callbacks: task %s: left due for later (%s)", due.task_id, exc)
            claim.stalled = True
        except Exception:
            log.exception("callbacks: task %s: not sent", due.task_id)
            claim.done.append(due.handle)  # not a store error: trying it again would fail again
        finally:
            with self._cond:
                claim.left -= 1
                if claim.left == 0:
                    self._unreleased.append((due.task_id, claim.done))
            self._settle_store()

    def _done(self, due: _Due, claim: _Claim) -> None:
        """Deleted from the store as soon as it is settled: a worker killed later in its claim leaves only what it
        had not sent yet (and the one on the wire) to be sent again by another."""
        try:
            self.store.release_due([], [due.handle])
        except StoreUnavailable:
            claim.done.append(due.handle)  # with the claim's release, once the store answers

    def _settle_store(self) -> None:
        """Release the claims this worker has settled (left here when the store failed; tried again on every tick
        until it answers, or until the lease runs out and another worker takes over)."""
        with self._cond:
            unreleased, self._unreleased = self._unreleased, []
        if not unreleased:
            return
        try:
            self.store.release_due([task for task, _ in unreleased], [h for _, done in unreleased for h in done])
        except StoreUnavailable:
            with self._cond:
                self._unreleased[:0] = unreleased
            return
        with self._cond:
            self._claims -= len(unreleased)
            self._released += 1
            self._cond.notify_all()  # the clock thread and a synchronous drain claim the released tasks' next ones

    def _deliver(self, due: _Due, synchronous: bool, overflow: bool = False) -> None:
        """Decide what this milestone sends (under the engine's lock), then send it from this worker."""
        engine = self.engine
        with engine.reading():  # every decision about this task's callbacks is taken under the engine's lock
            task = engine.world.task(due.task_id)
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
            payload = engine.views.snapshot(task, task.origin, due.index)
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
            if overflow:
                self._record(attempt, body, m, 0, None, "outbox overflow: not sent", None)
            elif attempt.fault == "delay" and not synchronous:
                self._later(delay_ms / 1000, attempt, body, m)
            else:
                self._send(attempt, body, m, SYNC_SEND_TIMEOUT_S if synchronous else SEND_TIMEOUT_S)

    def _later(self, seconds: float, attempt: _Attempt, payload: dict[str, Any], m: Milestone) -> None:
        def fire() -> None:
            with self._cond:
                self._timers.discard(timer)
            job = Job(attempt.key, attempt.task_id, lambda: self._send(attempt, payload, m, SEND_TIMEOUT_S))
            self._pool.submit(job)

        timer = threading.Timer(seconds, fire)
        with self._cond:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def _send(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, timeout: float) -> None:
        """POST once, or (retry policy) until a 2xx with the RETRY_DELAYS_S pauses; every try is recorded."""
        tries = 1 + (len(RETRY_DELAYS_S) if self.engine.settings.callback_policy == "retry" else 0)
        policy = Retrying(
            stop=stop_after_attempt(tries),
            wait=wait_chain(*(wait_fixed(s) for s in RETRY_DELAYS_S)),
            retry=retry_if_exception_type(_NotDelivered),
            retry_error_callback=lambda _state: None,  # given up: the outbox already says why
            sleep=self._stopping.wait,  # a stopping mock does not sit out the pauses
        )
        for trial in policy:
            with trial:
                self._post(attempt, payload, m, trial.retry_state.attempt_number, timeout)

    def _post(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, number: int, timeout: float) -> None:
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
        if error is not None or status is None or not 200 <= status < 300:
            # not silent: the outbox has the details, the log says which task's callback failed and why
            log.warning("callbacks: task %s: %s callback to %s failed (attempt %d): %s", attempt.task_id,
                        m.status.value, attempt.url.split("?")[0], number, error or f"HTTP {status}",
                        extra={"fields": {"taskId": attempt.task_id, "url": attempt.url.split("?")[0],
                                          "attempt": number, "httpStatus": status, "error": error}})
            raise _NotDelivered

    def _record(self, attempt: _Attempt, payload: dict[str, Any], m: Milestone, number: int,
                status: int | None, error: str | None, latency: float | None) -> None:
        with self._cond:
            if attempt.generation != self._generation:
                return  # sent before a full reset: not part of the new world's outbox
        entry = {
                "seq": 0, "taskId": attempt.task_id, "key": attempt.key, "url": attempt.url,
                "status": m.status.value, "progress": m.progress, "attempt": number, "httpStatus": status,
                "error": error, "latencyMs": latency, "time": m.at or 0, "fault": attempt.fault,
            "payload": payload,
        }
        try:
            # outside `_cond`: a shared store may wait for another worker. (A full reset between the check above
            # and this append leaves this one entry in the new outbox: the reset cannot wait for it, see the lock
            # order.)
            self.store.append(OUTBOX, attempt.key, entry, self.engine.settings.outbox_size)
        except StoreUnavailable as exc:  # the callback went (or was decided): only its outbox line is lost
            log.warning("callbacks: outbox entry of task %s not kept: %s", attempt.task_id, exc)

    def entries(self, task_id: str | None = None, limit: int | None = None,
                key: str | None = None) -> list[dict[str, Any]]:
        items = [e for e in self.store.entries(OUTBOX)  # read outside `_cond` (the lock order)
                 if (task_id is None or e.value["taskId"] == task_id) and (key is None or e.key == key)]
        if limit is not None:
            items = items[-limit:] if limit else []
        return [{**e.value, "seq": e.seq} for e in items]  # only those answered are copied
