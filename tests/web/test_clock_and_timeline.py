"""The mock's clock and a task's timeline: advancing applies every due transition and sends every due
callback before it answers; the timeline lists transitions, polls and callbacks in time order."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mockmj.model.timing import PROFILES
from tests.helpers import Client, Servers, submit_imagine


def milestones(task_ms: int) -> list[tuple[str, str | None, int]]:
    """The schedule of a plain imagine in manual timing, as offsets from submission."""
    p = PROFILES["manual"]
    out = [("NOT_START", None, 0), ("SUBMITTED", "0%", p.dispatch_ms),
           ("IN_PROGRESS", "0%", p.dispatch_ms + p.start_ms)]
    at = p.dispatch_ms + p.start_ms
    for step in ("15%", "31%", "46%", "62%", "78%", "93%"):
        at += p.step_ms
        out.append(("IN_PROGRESS", step, at))
    out.append(("SUCCESS", "100%", at + p.finish_ms))
    return [(s, pr, task_ms + t) for s, pr, t in out]


# --------------------------------------------------------------------------- the clock
def test_manual_clock_stands_still_until_advanced(manual: Client) -> None:
    before = manual.control("GET", "/clock")
    assert before["timing"] == "manual" and before["virtual"] is True
    time.sleep(0.05)
    assert manual.control("GET", "/clock")["now"] == before["now"]
    after = manual.advance(2.5)
    assert after["now"] == before["now"] + 2500


def test_advance_applies_every_due_transition(manual: Client) -> None:
    task_id = submit_imagine(manual)
    submitted_at = manual.fetch(task_id)["submitTime"]
    schedule = milestones(submitted_at)
    for status, progress, at in schedule[1:]:
        now = manual.control("GET", "/clock")["now"]
        manual.advance((at - now) / 1000)
        task = manual.fetch(task_id)
        assert (task["status"], task["progress"]) == (status, progress)
    assert task["finishTime"] == schedule[-1][2]






def test_advance_in_a_real_time_profile_moves_time_on(mocks: Servers) -> None:
    client = mocks(timing="realistic")
    clock = client.control("GET", "/clock")
    assert clock["virtual"] is False
    task_id = submit_imagine(client)
    assert client.fetch(task_id)["status"] in ("NOT_START", "SUBMITTED")
    moved = client.advance(120)
    assert moved["now"] >= clock["now"] + 120_000
    assert client.fetch(task_id)["status"] == "SUCCESS", "a realistic task is done two minutes later"


@pytest.mark.parametrize("body", [{}, {"seconds": -1}, {"seconds": "soon"}, {"seconds": 10**9}])
def test_bad_advance_is_refused(manual: Client, body: dict[str, Any]) -> None:
    before = manual.control("GET", "/clock")["now"]
    r = manual.http.post(f"{manual.base}/_mockmj/clock/advance", json=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]
    assert manual.control("GET", "/clock")["now"] == before


def test_set_timing_applies_to_later_tasks(mocks: Servers) -> None:
    client = mocks(timing="fast")
    switched = client.control("PUT", "/timing", {"timing": "manual"})
    assert switched["timing"] == "manual" and switched["virtual"] is True
    task_id = submit_imagine(client)
    time.sleep(0.6)  # a fast task would be done by now
    assert client.fetch(task_id)["status"] == "NOT_START"
    client.advance(60)
    assert client.fetch(task_id)["status"] == "SUCCESS"
    r = client.http.put(f"{client.base}/_mockmj/timing", json={"timing": "warp"}, timeout=10)
    assert r.status_code == 400


def test_switching_back_from_manual_restores_real_time(mocks: Servers) -> None:
    client = mocks(timing="fast")
    client.control("PUT", "/timing", {"timing": "manual"})
    back = client.control("PUT", "/timing", {"timing": "fast"})
    assert back["virtual"] is False
    before = client.control("GET", "/clock")["now"]
    time.sleep(0.2)
    assert client.control("GET", "/clock")["now"] > before


def test_per_poll_timing_moves_one_milestone_per_fetch(mocks: Servers) -> None:
    client = mocks(timing="per-poll")
    task_id = submit_imagine(client)
    seen = [(t["status"], t["progress"]) for t in (client.fetch(task_id) for _ in range(10))]
    assert seen == [("SUBMITTED", "0%"), ("IN_PROGRESS", "0%"), ("IN_PROGRESS", "15%"), ("IN_PROGRESS", "31%"),
                    ("IN_PROGRESS", "46%"), ("IN_PROGRESS", "62%"), ("IN_PROGRESS", "78%"),
                    ("IN_PROGRESS", "93%"), ("SUCCESS", "100%"), ("SUCCESS", "100%")]


def test_a_task_scheduled_before_a_switch_to_per_poll_keeps_its_schedule(manual: Client) -> None:
    """Timing applies to tasks submitted afterwards: a manual task polled in per-poll timing does not jump to its
    end, and after a switch back every read of it (fetch, list-by-condition, the dashboard) says the same."""
    task_id = submit_imagine(manual)
    manual.control("PUT", "/timing", {"timing": "per-poll"})
    assert [manual.fetch(task_id)["status"] for _ in range(3)] == ["NOT_START"] * 3
    manual.control("PUT", "/timing", {"timing": "manual"})
    fetched = manual.fetch(task_id)
    listed = manual.post("/mj/task/list-by-condition", {"ids": [task_id]}).json()
    dashboard = manual.control("GET", f"/tasks/{task_id}")["task"]
    assert fetched["status"] == listed[0]["status"] == dashboard["status"] == "NOT_START"
    manual.advance(60)
    assert manual.fetch(task_id)["status"] == "SUCCESS"


# --------------------------------------------------------------------------- the timeline


def test_timeline_shows_only_what_has_happened(manual: Client) -> None:
    task_id = submit_imagine(manual)
    manual.advance(3)
    events = manual.control("GET", f"/tasks/{task_id}/timeline")["events"]
    assert [(e["status"], e["progress"]) for e in events if e["kind"] == "transition"] == [
        ("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "0%"), ("IN_PROGRESS", "15%")]


def test_timeline_of_an_unknown_task_is_404(manual: Client) -> None:
    r = manual.http.get(f"{manual.base}/_mockmj/tasks/1234567890123456/timeline", timeout=10)
    assert r.status_code == 404 and r.json()["error"]
