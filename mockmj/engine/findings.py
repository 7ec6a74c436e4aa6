"""Findings: what a client does wrong, as the mock sees it, kept per API key (a linter for API clients).

The web layer reports every answered request as one `Seen`; this module keeps the little it needs per key
(fetch times per task, the last Retry-After, fingerprints of refused submissions) and turns patterns into
findings of six kinds. Each finding names the task or request, carries its evidence (times, counts) and
one sentence of advice. Times are the wall clock (time.monotonic), not the mock's clock: polling rates
and Retry-After are about real seconds, whatever the timing profile.

Memory is bounded: at most `max_tasks` tracked tasks in all (the mock's own `max_tasks`: a task the mock has
evicted is not worth judging), per key at most MAX_TASKS of them, MAX_REFUSED fingerprints and MAX_FINDINGS
findings (oldest dropped), and at most MAX_KEYS keys.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
MAX_KEYS = 1000
MAX_TASKS = 5000
MAX_REFUSED = 1000
MAX_FINDINGS = 1000
INFINITE = float("inf")
RATE_TOLERANCE = 1.1  # a client polling exactly at the limit, with scheduling jitter, is not flagged

KINDS: dict[str, str] = {
    "fast-polling": "Poll a task at most every {interval:g} s, or better, pass a notifyHook and wait for the "
                    "callback.",
    "polling-after-terminal": "Stop polling a task once it is SUCCESS, FAILURE or CANCEL: it never changes again.",
    "ignored-retry-after": "After a 429, wait the seconds its Retry-After header says before the next request.",
    "repeated-refused-submission": "Do not resend a refused submission unchanged: read its code and description, "
                                   "fix the request (or the balance/account) first.",
    "abandoned-task": "Fetch every task you submit until it finishes (or pass a notifyHook): a task nobody reads "
                      "is credit spent for nothing.",
    "button-before-success": "Press a task's buttons only once it is SUCCESS: before that it has none to press.",
}


@dataclass(frozen=True)
class Thresholds:
    polls_per_second: float = 2.0  # fast-polling: the highest sustained fetch rate per task
    poll_window: float = 2.0  # seconds over which that rate is measured
    terminal_polls: int = 3  # polling-after-terminal: fetches allowed after the first terminal answer
    abandoned_after: float = 60.0  # abandoned-task: seconds after submit without any fetch

    def check(self) -> None:
        if not self.polls_per_second > 0 or not self.poll_window > 0:
            raise ValueError("findings_polls_per_second and findings_poll_window must be > 0")
        if self.terminal_polls < 0 or self.abandoned_after < 0:
            raise ValueError("findings_terminal_polls and findings_abandoned_after must not be negative")

    def as_dict(self) -> dict[str, Any]:
        return {"pollsPerSecond": self.polls_per_second, "pollWindowSeconds": self.poll_window,
                "terminalPolls": self.terminal_polls, "abandonedAfterSeconds": self.abandoned_after}


@dataclass
class Seen:
    """One answered request, as the web layer saw it."""

    key: str
    kind: str  # "fetch", "list", "submit", "action", "other"
    method: str
    path: str
    status: int
    code: int | None = None
    task_id: str | None = None  # fetch: the task read; action: the task whose button was pressed
    task_ids: tuple[str, ...] = ()  # list-by-condition / list-by-ids: the tasks answered
    task_status: str | None = None  # fetch: the status answered
    parent_status: str | None = None  # action: the pressed task's status at that moment
    created: str | None = None  # submit/action: the task id it created
    refused: bool = False  # submit/action: refused (bad input, balance, account, banned…)
    body: bytes = b""
    retry_after: float | None = None  # a 429's Retry-After, seconds
    callback: bool = False  # submit/action: a callback receiver is configured for the new task
    at: float = field(default_factory=time.monotonic)


@dataclass
class Finding:
    kind: str
    subject: str  # "task 123…" or "POST /mj/submit/imagine"
    evidence: dict[str, Any]
    count: int = 1
    first: float = 0.0
    last: float = 0.0
    task_id: str | None = None

    def view(self, started: float, wall: float, advice: str) -> dict[str, Any]:
        """`first`/`last` as epoch ms: monotonic times mapped through the moment the tracker started."""
        def epoch(t: float) -> int:
            return round((wall + t - started) * 1000)

        return {"kind": self.kind, "subject": self.subject, "taskId": self.task_id, "count": self.count,
                "firstSeen": epoch(self.first), "lastSeen": epoch(self.last), "evidence": dict(self.evidence),
                "advice": advice}


@dataclass
class _Task:
    submitted: float
    callback: bool
    path: str
    subject: str  # its findings' subject: "task <id>"
    fetched: bool = False
    fetches: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    fetch_count: int = 0
    terminal: str | None = None  # the terminal status first answered
    after_terminal: int = 0


@dataclass
class _Key:
    tasks: OrderedDict[str, _Task] = field(default_factory=OrderedDict)
    refused: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)  # fingerprint -> (n, first)
    retry_until: float | None = None
    retry_after: float | None = None
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)


class Findings:
    def __init__(self, thresholds: Thresholds | None = None, max_tasks: int = MAX_KEYS * MAX_TASKS) -> None:
        self.max_tasks = max_tasks
        self._tracked: OrderedDict[tuple[str, str], None] = OrderedDict()  # (key, task id), oldest first
        self.thresholds = thresholds or Thresholds()
        self.thresholds.check()
        interval = round(1 / self.thresholds.polls_per_second, 2)
        # fast-polling's two numbers, worked out once (the thresholds are fixed): the fetches a window must hold
        # to be judged, and the rate over which it is too fast
        self._enough = max(3, int(self.thresholds.polls_per_second * self.thresholds.poll_window) + 1)
        self._too_fast = self.thresholds.polls_per_second * RATE_TOLERANCE
        self.advice = {kind: text.format(interval=interval) for kind, text in KINDS.items()}
        self._keys: OrderedDict[str, _Key] = OrderedDict()
        self._lock = threading.Lock()
        # The hot path's fetches wait here to be judged by whichever thread holds the lock next (every holder
        # judges them first): a fetch never blocks on the lock. With the server's many threads, one that lost
        # the GIL while holding the lock had the others queue behind it, each waking in turn (a lock convoy),
        # and under load half the threads in the app were found waiting there.
        self._fetches: deque[tuple[str, str, str, str, float]] = deque()
        self._started, self._wall = time.monotonic(), time.time()

    # ------------------------------------------------------------------------------------------ intake
    def observe(self, seen: Seen) -> None:
        with self._lock:
            self._judge_fetches()
            state = self._key(seen.key)
            self._retry_after(state, seen)
            if seen.kind == "fetch" and seen.task_id:
                task = state.tasks.get(seen.task_id)
                if task is not None:  # else not submitted by this key since the tracker started: nothing to judge
                    self._fetched(state, task, seen.task_id, seen.task_status, seen.at)
            elif seen.kind == "list":
                for task_id in seen.task_ids:
                    task = state.tasks.get(task_id)
                    if task is not None:
                        task.fetched = True
            elif seen.kind in ("submit", "action"):
                self._submit(state, seen)

    def observe_fetch(self, key: str, path: str, task_id: str, task_status: str) -> None:
        """`observe` of a 200 fetch (the hot path's): the same judgement, without a `Seen` built for it, made
        now if the lock is free, else by the thread holding it (which looks for more once it lets go)."""
        self._fetches.append((key, path, task_id, task_status, time.monotonic()))
        while self._fetches and self._lock.acquire(blocking=False):
            try:
                self._judge_fetches()
            finally:
                self._lock.release()

    def _judge_fetches(self) -> None:
        """The fetches waiting, oldest first (called holding the lock)."""
        fetches = self._fetches
        while fetches:
            key, path, task_id, task_status, at = fetches.popleft()
            state = self._key(key)
            if state.retry_until is not None:
                self._retry_after(state, Seen(key=key, kind="fetch", method="GET", path=path, status=200,
                                              task_id=task_id, task_status=task_status, at=at))
            task = state.tasks.get(task_id)
            if task is not None:
                self._fetched(state, task, task_id, task_status, at)

    def _key(self, key: str) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
            if len(self._keys) > MAX_KEYS:
                self._forget(*self._keys.popitem(last=False))
        else:
            self._keys.move_to_end(key)
        return state

    def _note(self, state: _Key, kind: str, subject: str, at: float, evidence: dict[str, Any],
              task_id: str | None = None) -> None:
        found = state.findings.get((kind, subject))
        if found is None:
            state.findings[(kind, subject)] = Finding(kind, subject, evidence, 1, at, at, task_id)
            if len(state.findings) > MAX_FINDINGS:
                del state.findings[next(iter(state.findings))]
        else:
            found.count += 1
            found.last = at
            found.evidence = evidence

    def _retry_after(self, state: _Key, seen: Seen) -> None:
        if state.retry_until is not None and seen.at < state.retry_until:
            early = round(state.retry_until - seen.at, 3)
            self._note(state, "ignored-retry-after", f"{seen.method} {seen.path}", seen.at,
                       {"retryAfterSeconds": state.retry_after, "secondsTooEarly": early})
        if seen.status == 429 and seen.retry_after is not None:
            until = seen.at + seen.retry_after
            state.retry_until = max(until, state.retry_until or 0.0)
            state.retry_after = seen.retry_after

    def _fetched(self, state: _Key, task: _Task, task_id: str, task_status: str | None, at: float) -> None:
        task.fetched = True
        task.fetch_count += 1
        recent = task.fetches
        recent.append(at)
        limits = self.thresholds
        if task.terminal is not None:
            task.after_terminal += 1
            if task.after_terminal > limits.terminal_polls:
                evidence = self._evidence(state, "polling-after-terminal", task, task_id, at)
                if not evidence:
                    evidence.update(status=task.terminal, fetchesAfterTerminal=0, allowed=limits.terminal_polls)
                evidence["fetchesAfterTerminal"] = task.after_terminal
        elif task_status in TERMINAL:
            task.terminal = task_status
        while recent[0] <= at - limits.poll_window:  # times only grow: the old ones are first
            recent.popleft()
        if len(recent) >= self._enough:
            span = recent[-1] - recent[0]
            rate = (len(recent) - 1) / span if span > 0 else INFINITE
            if rate > self._too_fast:
                evidence = self._evidence(state, "fast-polling", task, task_id, at)
                if not evidence:
                    evidence.update(peakPerSecond=0.0, fetches=0, limitPerSecond=limits.polls_per_second)
                if rate > evidence["peakPerSecond"]:  # the peak only rises; shown rounded, and at most a million
                    evidence["peakPerSecond"] = round(min(rate, 1e6), 2)
                evidence["fetches"] = task.fetch_count

    def _evidence(self, state: _Key, kind: str, task: _Task, task_id: str, at: float) -> dict[str, Any]:
        """`_note` of a task's finding whose evidence the caller fills in (empty when the finding is new): a poll
        that repeats a finding (every poll of a client polling too fast) updates it in place instead of building
        it again. The evidence is only ever read under the lock, and copied (Finding.view)."""
        found = state.findings.get((kind, task.subject))
        if found is None:
            self._note(state, kind, task.subject, at, {}, task_id)
            return state.findings[(kind, task.subject)].evidence
        found.count += 1
        found.last = at
        return found.evidence

    def _track(self, key: str, state: _Key, task_id: str, task: _Task) -> None:
        state.tasks[task_id] = task
        if len(state.tasks) > MAX_TASKS:
            gone, _ = state.tasks.popitem(last=False)
            self._tracked.pop((key, gone), None)
        self._tracked[(key, task_id)] = None
        while len(self._tracked) > self.max_tasks:
            (old_key, old_task), _ = self._tracked.popitem(last=False)
            owner = self._keys.get(old_key)
            if owner is not None:
                owner.tasks.pop(old_task, None)

    def _submit(self, state: _Key, seen: Seen) -> None:
        if seen.kind == "action" and seen.parent_status is not None and seen.parent_status != "SUCCESS":
            self._note(state, "button-before-success", f"task {seen.task_id}", seen.at,
                       {"status": seen.parent_status, "path": seen.path}, seen.task_id)
        if seen.refused:
            fingerprint = hashlib.sha256(seen.path.encode() + b"\0" + seen.body).hexdigest()
            count, first = state.refused.pop(fingerprint, (0, seen.at))
            state.refused[fingerprint] = (count + 1, first)
            if len(state.refused) > MAX_REFUSED:
                state.refused.popitem(last=False)
            if count:
                self._note(state, "repeated-refused-submission", f"{seen.method} {seen.path}", seen.at,
                           {"sent": count + 1, "lastStatus": seen.status, "lastCode": seen.code,
                            "secondsSinceFirst": round(seen.at - first, 3)})
        elif seen.created and seen.created not in state.tasks:  # a modal confirm answers its task's own id
            self._track(seen.key, state, seen.created, _Task(seen.at, seen.callback, seen.path,
                                                               f"task {seen.created}"))

    # ------------------------------------------------------------------------------------------ verdict
    def of(self, key: str | None = None, final: bool = False) -> list[dict[str, Any]]:
        """The findings of one key (every key when None), oldest first. `final`: the client is done, so every
        submitted task it never read counts as abandoned, however young."""
        now = time.monotonic()
        with self._lock:
            self._judge_fetches()
            keys = [key] if key is not None else list(self._keys)
            out: list[tuple[str, Finding]] = []
            for name in keys:
                state = self._keys.get(name)
                if state is None:
                    continue
                out.extend((name, f) for f in state.findings.values())
                for task_id, task in state.tasks.items():
                    age = now - task.submitted
                    if task.fetched or task.callback or not (final or age >= self.thresholds.abandoned_after):
                        continue
                    out.append((name, Finding("abandoned-task", f"task {task_id}",
                                              {"secondsSinceSubmit": round(age, 3), "fetches": 0, "path": task.path},
                                              1, task.submitted, task.submitted, task_id)))
        out.sort(key=lambda kf: kf[1].first)
        return [{"key": name, **f.view(self._started, self._wall, self.advice[f.kind])} for name, f in out]

    def _forget(self, key: str, state: _Key) -> None:
        for task_id in state.tasks:
            self._tracked.pop((key, task_id), None)

    def clear(self, key: str | None = None) -> None:
        with self._lock:
            self._judge_fetches()  # those answered before the clearing go with it
            if key is None:
                self._keys.clear()
                self._tracked.clear()
            else:
                state = self._keys.pop(key, None)
                if state is not None:
                    self._forget(key, state)
