"""notifyHook callbacks over real sockets: a local receiver gets what fetch shows, faults are observable,
slow or dead receivers never slow the API, and the retry policy retries."""

from __future__ import annotations

import itertools
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.helpers import Client, Receiver, Servers, submit_imagine

STATUS_RANK = {"NOT_START": 0, "SUBMITTED": 1, "IN_PROGRESS": 2, "SUCCESS": 3, "FAILURE": 3, "CANCEL": 3}


def rank(payload: dict[str, Any]) -> tuple[int, int]:
    progress = (payload.get("progress") or "").rstrip("%")
    return STATUS_RANK[payload["status"]], int(progress) if progress.isdigit() else -1


def milestone(payload: dict[str, Any]) -> tuple[str, str | None]:
    return payload["status"], payload["progress"]


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


def outbox(client: Client, task_id: str | None = None) -> list[dict[str, Any]]:
    path = f"/callbacks?taskId={task_id}" if task_id else "/callbacks"
    return client.control("GET", path)["items"]


def wait_outbox(client: Client, task_id: str, done: Callable[[list[dict[str, Any]]], bool],
                timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        entries = outbox(client, task_id)
        if done(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.02)


# --------------------------------------------------------------------------- payloads follow fetch
def test_each_callback_equals_fetch_at_its_milestone(manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    task_id = submit_imagine(manual, notifyHook=receiver.url)
    assert manual.fetch(task_id)["status"] == "NOT_START"
    manual.advance(0.5)
    assert receiver.payloads() == [], "no callback at NOT_START"

    seen: list[tuple[str, str | None]] = []
    for _ in range(20):
        manual.advance(1)
        task = manual.fetch(task_id)
        if not seen or milestone(task) != seen[-1]:
            seen.append(milestone(task))
        got = receiver.payloads(task_id)
        # advance has returned: every callback that fell due is already at the receiver
        assert [milestone(p) for p in got] == seen
        assert got[-1] == task, "the latest callback must equal what fetch returns now"
        if task["status"] == "SUCCESS":
            break
    assert seen[0] == ("SUBMITTED", "0%")
    assert [s for s, _ in seen[1:-1]] == ["IN_PROGRESS"] * 7
    assert seen[-1] == ("SUCCESS", "100%")
    final = receiver.payloads(task_id)[-1]
    assert final["imageUrl"] and len(final["buttons"]) == 9
    assert all(c.content_type.startswith("application/json") for c in receiver.calls)

    entries = outbox(manual, task_id)
    assert [milestone(e) for e in entries] == seen
    assert all(e["attempt"] == 1 and e["httpStatus"] == 200 and e["error"] is None and e["fault"] is None
               and e["url"] == receiver.url for e in entries)
    assert [e["payload"] for e in entries] == receiver.payloads(task_id)


def test_failure_callback_carries_the_fail_reason(manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    task_id = submit_imagine(manual, "a boat --mockmj fail:no boats today", notifyHook=receiver.url)
    manual.advance(30)
    final = receiver.payloads(task_id)[-1]
    assert final["status"] == "FAILURE" and final["failReason"] == "no boats today"
    assert final == manual.fetch(task_id)


def test_global_notify_hook_is_used_without_a_task_hook(mocks: Servers,
                                                       make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    client = mocks(timing="manual", seed=3, notify_hook=receiver.url)
    task_id = submit_imagine(client)
    client.advance(30)
    assert [p["status"] for p in receiver.payloads(task_id)][-1] == "SUCCESS"


def test_no_hook_no_callbacks(manual: Client) -> None:
    task_id = submit_imagine(manual)
    manual.advance(30)
    assert manual.fetch(task_id)["status"] == "SUCCESS"
    assert outbox(manual, task_id) == []


# --------------------------------------------------------------------------- faults
def normal_sequence(manual: Client, receiver: Receiver) -> list[tuple[str, str | None]]:
    task_id = submit_imagine(manual, "reference", notifyHook=receiver.url)
    manual.advance(30)
    return [milestone(p) for p in receiver.payloads(task_id)]


def test_fault_drop_loses_the_final_callback(manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    task_id = submit_imagine(manual, notifyHook=receiver.url, headers={"X-MockMJ-Callback-Fault": "drop"})
    manual.advance(30)
    assert manual.fetch(task_id)["status"] == "SUCCESS"
    statuses = [p["status"] for p in receiver.payloads(task_id)]
    assert "SUCCESS" not in statuses
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "IN_PROGRESS"
    entries = outbox(manual, task_id)
    assert all(e["fault"] == "drop" for e in entries)
    dropped = [e for e in entries if e["httpStatus"] is None]
    assert len(dropped) == 1
    assert dropped[0]["status"] == "SUCCESS" and dropped[0]["error"], dropped


def test_fault_duplicate_sends_each_update_twice(manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    expected = normal_sequence(manual, receiver)
    task_id = submit_imagine(manual, notifyHook=receiver.url, headers={"X-MockMJ-Callback-Fault": "duplicate"})
    manual.advance(30)
    got = receiver.payloads(task_id)
    assert len(got) == 2 * len(expected)
    assert [milestone(p) for p in got[::2]] == expected
    assert got[::2] == got[1::2]
    assert all(e["fault"] == "duplicate" for e in outbox(manual, task_id))


def test_fault_reorder_delivers_an_earlier_update_after_a_later_one(
        manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    expected = normal_sequence(manual, receiver)
    task_id = submit_imagine(manual, notifyHook=receiver.url, headers={"X-MockMJ-Callback-Fault": "reorder"})
    manual.advance(30)
    got = receiver.payloads(task_id)
    ranks = [rank(p) for p in got]
    assert any(later < earlier for earlier, later in itertools.pairwise(ranks)), ranks
    assert sorted(milestone(p) for p in got) == sorted(expected), "every update still arrives once"
    assert got[-1]["status"] == "SUCCESS"


def test_fault_delay_makes_callbacks_arrive_later(mocks: Servers,
                                                  make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    client = mocks(timing="fast", seed=5)
    client.control("POST", "/rules", {"match": {"operation": "submitImagine"},
                                      "respond": {"callbackFault": "delay", "callbackDelayMs": 400}, "times": 1})
    task_id = submit_imagine(client, "stuck one --mockmj stuck", notifyHook=receiver.url)
    entries = wait_outbox(client, task_id, lambda e: len(e) >= 1)
    assert len(entries) == 1 and entries[0]["fault"] == "delay" and entries[0]["httpStatus"] == 200
    arrived = receiver.calls[0].wall_ms
    assert arrived - entries[0]["time"] >= 350, "a delayed callback arrives at least the delay after it fell due"

    # the rule is spent: the next task's callback is not delayed
    other = submit_imagine(client, "stuck two --mockmj stuck", notifyHook=receiver.url)
    entries = wait_outbox(client, other, lambda e: len(e) >= 1)
    assert entries[0]["fault"] is None


def test_unknown_fault_header_is_refused(manual: Client) -> None:
    r = manual.post("/mj/submit/imagine", {"prompt": "cat"}, headers={"X-MockMJ-Callback-Fault": "explode"})
    assert r.json()["code"] == 21 and r.json()["result"] is None
    assert "X-MockMJ-Callback-Fault" in r.json()["description"]


# --------------------------------------------------------------------------- slow and dead receivers
def api_latencies(client: Client, hook: str, tasks: int = 6) -> tuple[float, float, list[str]]:
    """(median submit seconds, median fetch seconds, task ids) for tasks whose hook is `hook`."""
    submits, fetches, ids = [], [], []
    for i in range(tasks):
        started = time.perf_counter()
        ids.append(submit_imagine(client, f"hooked {i}", codes=(1, 22), notifyHook=hook))
        submits.append(time.perf_counter() - started)
    for _ in range(3):
        for task_id in ids:
            started = time.perf_counter()
            client.fetch(task_id)
            fetches.append(time.perf_counter() - started)
        time.sleep(0.1)
    return statistics.median(submits), statistics.median(fetches), ids


def assert_unchanged(baseline: tuple[float, float, list[str]], hooked: tuple[float, float, list[str]]) -> None:
    """Hooked medians within noise of the no-hook medians (a blocking delivery would add seconds)."""
    for name, before, after in (("submit", baseline[0], hooked[0]), ("fetch", baseline[1], hooked[1])):
        assert after < 3 * before + 0.05, f"{name} p50 {after:.3f}s with the hook vs {before:.3f}s without"


def test_dead_receiver_does_not_slow_the_api(mocks: Servers) -> None:
    client = mocks(timing="fast", seed=11)
    baseline = api_latencies(client, "")
    hooked = api_latencies(client, closed_port_url())
    assert_unchanged(baseline, hooked)
    ids = hooked[2]
    assert client.finish(ids[0])["status"] == "SUCCESS"
    entries = wait_outbox(client, ids[0], lambda e: any(x["status"] == "SUCCESS" for x in e))
    assert entries and all(e["httpStatus"] is None and e["error"] for e in entries)
    assert all(isinstance(e["latencyMs"], float | int) for e in entries)


def test_sleeping_receiver_does_not_slow_the_api(mocks: Servers,
                                                 make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(hold=True, hold_seconds=60)  # held until released below
    client = mocks(timing="fast", seed=12)
    first = submit_imagine(client, "hooked 0", codes=(1, 22), notifyHook=receiver.url)
    receiver.wait_for(lambda p: len(p) >= 1, timeout=30)
    # every API call below is answered while the receiver still holds the first callback: a delivery that
    # blocked the API would hang them for the minute of the hold (past their 30 s timeout), not slow them
    ids = [first, *(submit_imagine(client, f"hooked {i}", codes=(1, 22), notifyHook=receiver.url)
                    for i in range(1, 6))]
    for task_id in ids:
        client.fetch(task_id)
    assert client.finish(ids[0])["status"] == "SUCCESS", "tasks go on while the receiver sleeps"
    assert not receiver.released.is_set()
    held_from = receiver.calls[0].wall_ms
    time.sleep(0.3)  # the receiver holds for at least this long (a sleep never ends early)
    receiver.release()
    held_ms = time.time() * 1000 - held_from
    entries = wait_outbox(client, ids[0], lambda e: any(x["status"] == "SUBMITTED" for x in e))
    submitted = next(e for e in entries if e["status"] == "SUBMITTED")
    assert submitted["httpStatus"] == 200
    assert submitted["latencyMs"] >= 0.8 * min(held_ms, 300), "the outbox records how long the receiver took"


# --------------------------------------------------------------------------- delivery policy
def test_upstream_policy_does_not_retry(manual: Client, make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(statuses=(500,))
    task_id = submit_imagine(manual, "x --mockmj stuck", notifyHook=receiver.url)
    manual.advance(2)
    entries = outbox(manual, task_id)
    assert [(e["attempt"], e["httpStatus"]) for e in entries] == [(1, 500)]
    assert len(receiver.calls) == 1


def test_retry_policy_retries_a_failing_receiver(mocks: Servers,
                                                 make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(statuses=(500, 500, 200))
    client = mocks(timing="manual", seed=13, callback_policy="retry")
    task_id = submit_imagine(client, "x --mockmj stuck", notifyHook=receiver.url)
    client.advance(2)
    entries = outbox(client, task_id)
    assert [(e["attempt"], e["httpStatus"]) for e in entries] == [(1, 500), (2, 500), (3, 200)]
    assert len(receiver.calls) == 3
    assert len({c.body for c in receiver.calls}) == 1, "every attempt carries the same payload"
