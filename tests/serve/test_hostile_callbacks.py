"""Hostile receivers: one tenant's slow notifyHook never delays another tenant's callbacks.

Two keys on one mock, each with its own real receiver on a loopback socket; A's receiver holds every
request until the test releases it. B's callbacks must all arrive while A's are still held, in real time
(`fast`) and in `manual` timing (where `clock/advance` sends what fell due before it answers): shown by the
order of events, not by a time limit, so a busy machine cannot fail it. The pool that makes this so is
also checked directly: a tenant's share of the workers, and a task's order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mockmj.engine.callbacks.fairpool import FairPool, Job
from tests.helpers import Client, Receiver, Servers, submit_imagine

FINAL = ("SUCCESS", "FAILURE", "CANCEL")
RANK = {"NOT_START": 0, "SUBMITTED": 1, "IN_PROGRESS": 2, "SUCCESS": 3, "FAILURE": 3, "CANCEL": 3}


def rank(payload: dict[str, Any]) -> tuple[int, int]:
    progress = (payload.get("progress") or "").rstrip("%")
    return RANK[payload["status"]], int(progress) if progress.isdigit() else -1


def finals(payloads: list[dict[str, Any]], count: int) -> bool:
    return sum(p["status"] in FINAL for p in payloads) >= count


def tenants(mocks: Servers, **options: Any) -> tuple[Client, Client]:
    server = mocks.start(**options)
    return Client(server, key="tenant-a"), Client(server, key="tenant-b")


def test_slow_receiver_does_not_delay_another_tenant_in_real_time(
        mocks: Servers, make_receiver: Callable[..., Receiver]) -> None:
    slow = make_receiver(hold=True, hold_seconds=60)  # held until released below
    quick = make_receiver()
    a, b = tenants(mocks, timing="fast", seed=21)
    # enough of A's callbacks to occupy every worker a plain pool of 8 would have
    a_ids = [submit_imagine(a, f"slow {i}", codes=(1, 22), notifyHook=slow.url) for i in range(10)]
    slow.wait_for(lambda p: len(p) >= 2, timeout=30)
    b_ids = [submit_imagine(b, f"quick {i}", codes=(1, 22), notifyHook=quick.url) for i in range(2)]
    # B's tasks finish and are called back while A's receiver still holds its callbacks: a pool that made
    # B wait behind A would send nothing to B until the release (a minute away, past this wait)
    received = quick.wait_for(lambda p: finals(p, 2), timeout=30)
    assert not slow.released.is_set()
    assert finals(received, 2), [p["status"] for p in received]
    assert {p["id"] for p in received} == set(b_ids)
    slow.release()
    for task_id in a_ids[:2]:
        slow.wait_for(lambda p, t=task_id: finals([x for x in p if x["id"] == t], 1), timeout=30)
        ranks = [rank(p) for p in slow.payloads(task_id)]
        assert ranks == sorted(ranks), "a task's updates still arrive in order"


def test_slow_receiver_does_not_delay_another_tenant_in_manual_timing(
        mocks: Servers, make_receiver: Callable[..., Receiver]) -> None:
    slow = make_receiver(hold=True, hold_seconds=60)  # held until released below
    quick = make_receiver()
    a, b = tenants(mocks, timing="manual", seed=22)
    a_id = submit_imagine(a, "slow", notifyHook=slow.url)
    b_id = submit_imagine(b, "quick", notifyHook=quick.url)
    answered = threading.Event()

    def advance() -> None:
        a.advance(60)
        answered.set()

    mover = threading.Thread(target=advance)
    mover.start()
    # B's whole story arrives while A's receiver holds A's first callback, so while clock/advance (which
    # answers only once everything that fell due was sent) is still waiting on A
    received = quick.wait_for(lambda p: finals(p, 1), timeout=30)
    assert finals(received, 1), [p["status"] for p in received]
    assert slow.payloads() and not answered.is_set(), "clock/advance answered before A's callbacks were sent"
    slow.release()
    mover.join(timeout=60)
    assert answered.is_set()
    a_payloads = slow.payloads(a_id)
    assert a_payloads[-1]["status"] == "SUCCESS" and len(a_payloads) >= 3
    assert [rank(p) for p in a_payloads] == sorted(rank(p) for p in a_payloads)
    assert {p["id"] for p in quick.payloads()} == {b_id}


# --------------------------------------------------------------------------- the pool itself
class Gate:
    """Jobs that block until released, recording when they start."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def job(self, tenant: str, lane: str, name: str, block: bool = True) -> Job:
        def run() -> None:
            with self.lock:
                self.started.append(name)
            if block:
                self.release.wait(5)
        return Job(tenant, lane, run)

    def wait_started(self, names: set[str], timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if names <= set(self.started):
                    return True
            time.sleep(0.01)
        return False


def test_a_tenant_uses_at_most_its_share_and_others_still_run() -> None:
    pool = FairPool(max_workers=4, per_tenant=2)
    gate = Gate()
    try:
        for i in range(6):
            pool.submit(gate.job("a", f"a{i}", f"a{i}"))
        assert gate.wait_started({"a0", "a1"})
        pool.submit(gate.job("b", "b0", "b0", block=False))
        assert gate.wait_started({"b0"}), "B runs while A's jobs block"
        time.sleep(0.1)
        with gate.lock:
            assert [n for n in gate.started if n.startswith("a")] == ["a0", "a1"], "A never gets a third worker"
        assert pool.waiting("a") == 6
        gate.release.set()
        assert gate.wait_started({f"a{i}" for i in range(6)})
    finally:
        gate.release.set()
        pool.stop()


def test_jobs_of_one_lane_run_one_at_a_time_in_order() -> None:
    pool = FairPool(max_workers=4, per_tenant=3)
    gate = Gate()
    try:
        pool.submit(gate.job("a", "task-1", "first"))
        pool.submit(gate.job("a", "task-1", "second", block=False))
        pool.submit(gate.job("a", "task-2", "other", block=False))
        assert gate.wait_started({"first", "other"})
        time.sleep(0.1)
        with gate.lock:
            assert "second" not in gate.started, "a task's next update waits for the one before"
        gate.release.set()
        assert gate.wait_started({"second"})
        assert gate.started.index("first") < gate.started.index("second")
    finally:
        gate.release.set()
        pool.stop()


def test_a_stopped_pool_takes_no_more_jobs() -> None:
    pool = FairPool(max_workers=2, per_tenant=1)
    pool.stop()
    assert pool.submit(Job("a", "x", lambda: None)) is False
