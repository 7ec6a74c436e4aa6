"""What clock/advance does with callbacks sent to a real receiver on a loopback socket, and the timeline that
lists them (the clock itself is tested in tests/web/test_clock_and_timeline.py)."""

from __future__ import annotations

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
