"""What clock/advance does with callbacks sent to a real receiver on a loopback socket, and the timeline that
lists them (the clock itself is tested in tests/web/test_clock_and_timeline.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

from mockmj.model.timing import PROFILES
from tests.helpers import Client, Receiver, submit_imagine
from tests.web.test_clock_and_timeline import milestones


def test_advance_sends_due_callbacks_before_it_returns(manual: Client, receiver: Receiver) -> None:
    task_id = submit_imagine(manual, notifyHook=receiver.url)
    manual.advance(60)
    # no waiting: what fell due was sent while the advance request was being answered
    got = receiver.payloads(task_id)
    assert [p["status"] for p in got] == ["SUBMITTED", *["IN_PROGRESS"] * 7, "SUCCESS"]
    outbox = manual.control("GET", f"/callbacks?taskId={task_id}")["items"]
    assert [(e["status"], e["progress"]) for e in outbox] == [(p["status"], p["progress"]) for p in got]
    assert all(e["httpStatus"] == 200 for e in outbox)


def test_advance_waits_even_for_a_slow_receiver(manual: Client) -> None:
    slow = Receiver(hold=True, hold_seconds=0.06)  # every callback takes 60 ms to answer
    try:
        ids = [submit_imagine(manual, f"slow hook {i}", notifyHook=slow.url) for i in range(3)]
        manual.advance(60)
        assert len(slow.calls) == 27
        for task_id in ids:
            assert [p["status"] for p in slow.payloads(task_id)][-1] == "SUCCESS"
    finally:
        slow.close()


def test_timeline_lists_transitions_polls_and_callbacks_in_time_order(manual: Client, receiver: Receiver) -> None:
    task_id = submit_imagine(manual, notifyHook=receiver.url)
    submitted_at = manual.fetch(task_id)["submitTime"]
    poll_times = [submitted_at]
    for seconds in (1.5, 3, 10):
        poll_times.append(manual.advance(seconds)["now"])
        manual.fetch(task_id)
    events = manual.control("GET", f"/tasks/{task_id}/timeline")["events"]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    assert {e["kind"] for e in events} == {"transition", "poll", "callback"}

    transitions = [(e["status"], e["progress"], e["time"]) for e in events if e["kind"] == "transition"]
    assert transitions == milestones(submitted_at)
    assert [e["time"] for e in events if e["kind"] == "poll"] == poll_times
    callbacks = [e for e in events if e["kind"] == "callback"]
    assert [(c["status"], c["progress"], c["time"]) for c in callbacks] == transitions[1:]
    assert all(c["detail"]["httpStatus"] == 200 and c["detail"]["url"] == receiver.url for c in callbacks)
    for c in callbacks:  # each callback comes after the transition it reports
        assert events.index(c) > next(i for i, e in enumerate(events) if e["kind"] == "transition"
                                      and (e["status"], e["progress"]) == (c["status"], c["progress"]))


def test_an_advance_sends_what_fell_due_behind_another_advance_s_send(manual: Client) -> None:
    """One advance is still sending a task's SUBMITTED callback (the task is leased) when a second advance makes
    the rest of its callbacks due: the second claims them once that send is over, and has sent them, in order,
    when it returns."""
    slow = Receiver(hold=True, hold_seconds=20)
    store = manual.server.app.extensions["mockmj"].callbacks.store
    claim_due = store.claim_due
    armed = threading.Event()

    def claim_then_let_go(now: int, lease_s: float) -> Any:
        claimed = claim_due(now, lease_s)
        if armed.is_set():  # the second advance's first claim, made while SUBMITTED is held: answer it now
            slow.released.set()
        return claimed

    store.claim_due = claim_then_let_go
    first = None
    try:
        task_id = submit_imagine(manual, notifyHook=slow.url)
        first = threading.Thread(target=manual.advance, args=(PROFILES["manual"].dispatch_ms / 1000,))
        first.start()
        deadline = time.monotonic() + 20
        while not slow.calls and time.monotonic() < deadline:  # the first advance's send reached the receiver
            time.sleep(0.01)
        assert [p["status"] for p in slow.payloads(task_id)] == ["SUBMITTED"]
        armed.set()
        manual.advance(60)
        assert [p["status"] for p in slow.payloads(task_id)] == ["SUBMITTED", *["IN_PROGRESS"] * 7, "SUCCESS"]
    finally:
        slow.released.set()
        if first is not None:
            first.join(timeout=30)
        del store.claim_due
        slow.close()
