"""Findings: each of the six kinds is caught on a deliberately bad client talking to a real mock over HTTP,
a polite client gets none, thresholds come from the settings, and a reset forgets them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client

Make = Callable[..., MockServer]


def findings(c: Client, final: bool = False, key: str | None = None) -> list[dict[str, Any]]:
    r = c.http.get(f"{c.base}/_mockmj/findings", params={"key": key or c.key, "final": str(final).lower()},
                   timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def kinds(items: list[dict[str, Any]]) -> list[str]:
    return sorted(f["kind"] for f in items)


def submitted(c: Client, prompt: str = "a lighthouse", **extra: Any) -> str:
    answer = c.imagine(prompt, **extra).json()
    assert answer["code"] == 1, answer
    return str(answer["result"])


def test_fast_polling(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1))
    task_id = submitted(c)
    for _ in range(8):  # a tight loop: no sleep between fetches
        c.fetch(task_id)
    [found] = findings(c)
    assert found["kind"] == "fast-polling" and found["taskId"] == task_id and found["subject"] == f"task {task_id}"
    assert found["evidence"]["peakPerSecond"] > 2 and found["evidence"]["fetches"] == 8
    assert found["evidence"]["limitPerSecond"] == 2.0 and "0.5 s" in found["advice"]


def test_polling_at_the_configured_rate_is_fine(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1, findings_polls_per_second=10.0, findings_poll_window=1.0))
    task_id = submitted(c)
    for _ in range(8):
        c.fetch(task_id)
        time.sleep(0.15)  # ~6.7 per second: under the configured 10
    assert findings(c) == []
    for _ in range(15):
        c.fetch(task_id)
    assert kinds(findings(c)) == ["fast-polling"]


def test_polling_after_terminal(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1, findings_polls_per_second=1000.0))
    task_id = submitted(c)
    c.advance(120)
    assert c.fetch(task_id)["status"] == "SUCCESS"  # the first terminal answer: reading it is the point
    for _ in range(3):  # the allowed few extra reads
        c.fetch(task_id)
    assert findings(c) == []
    c.fetch(task_id)
    c.fetch(task_id)
    [found] = findings(c)
    assert found["kind"] == "polling-after-terminal" and found["taskId"] == task_id
    assert found["evidence"] == {"status": "SUCCESS", "fetchesAfterTerminal": 5, "allowed": 3}
    assert found["count"] == 2


def test_ignored_retry_after(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1))
    c.control("POST", "/rules", {"match": {"operation": "submitImagine", "key": c.key},
                                 "respond": {"httpStatus": 429, "retryAfter": 30}, "times": 1})
    first = c.imagine("a cat")
    assert first.status_code == 429 and first.headers["Retry-After"] == "30"
    again = c.imagine("a cat")  # at once, 30 s too early
    assert again.status_code == 200
    [found] = findings(c)
    assert found["kind"] == "ignored-retry-after" and found["subject"] == "POST /mj/submit/imagine"
    assert found["evidence"]["retryAfterSeconds"] == 30.0 and 25 < found["evidence"]["secondsTooEarly"] <= 30


def test_repeated_refused_submission(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1))
    for _ in range(3):
        r = c.imagine("")  # refused: a blank prompt, sent again and again unchanged
        assert r.json()["code"] == 21
    c.imagine("   a different body   ").json()  # changed: not a repeat
    [found] = findings(c)
    assert found["kind"] == "repeated-refused-submission" and found["subject"] == "POST /mj/submit/imagine"
    assert found["evidence"]["sent"] == 3 and found["evidence"]["lastCode"] == 21 and found["count"] == 2


def test_a_refusal_then_the_same_accepted_submission_is_fine(make_server: Make) -> None:
    """Retrying unchanged after code 25 can be right (the balance was topped up): only a repeat refused again
    is flagged."""
    c = Client(make_server(timing="manual", seed=1))
    c.control("POST", "/rules", {"match": {"operation": "submitImagine", "key": c.key}, "respond": {"code": 25},
                                 "times": 1})
    assert c.imagine("a cat").json()["code"] == 25
    task_id = submitted(c, "a cat")
    c.fetch(task_id)
    assert findings(c, final=True) == []


def test_abandoned_task(make_server: Make, receiver: Any) -> None:
    c = Client(make_server(timing="manual", seed=1))
    forgotten = submitted(c, "forgotten")
    read = submitted(c, "read")
    c.fetch(read)
    submitted(c, "called back", notifyHook=receiver.url)  # a callback receiver: no need to poll
    assert findings(c) == []  # young, and the client may still read it
    [found] = findings(c, final=True)
    assert found["kind"] == "abandoned-task" and found["taskId"] == forgotten
    assert found["evidence"]["fetches"] == 0 and found["evidence"]["path"] == "/mj/submit/imagine"


def test_abandoned_after_the_configured_delay(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1, findings_abandoned_after=0.2))
    forgotten = submitted(c)
    listed = submitted(c, "listed")
    assert c.post("/mj/task/list-by-condition", {"ids": [listed]}).status_code == 200  # reading it by list counts
    time.sleep(0.3)
    assert [f["taskId"] for f in findings(c)] == [forgotten]


def test_button_before_success(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1))
    task_id = submitted(c)
    assert c.fetch(task_id)["status"] == "NOT_START"
    c.post("/mj/submit/action", {"taskId": task_id, "customId": "MJ::JOB::upsample::1::0000"})
    [found] = findings(c)
    assert found["kind"] == "button-before-success" and found["taskId"] == task_id
    assert found["evidence"] == {"status": "NOT_START", "path": "/mj/submit/action"}


def test_a_well_behaved_client_has_none(make_server: Make) -> None:
    c = Client(make_server(timing="fast", seed=1))
    task_id = submitted(c)
    while (task := c.fetch(task_id))["status"] not in ("SUCCESS", "FAILURE"):
        time.sleep(0.6)
    upscale = next(b["customId"] for b in task["buttons"] if b["label"] == "U1")
    child = c.post("/mj/submit/action", {"taskId": task_id, "customId": upscale}).json()["result"]
    while c.fetch(child)["status"] not in ("SUCCESS", "FAILURE"):
        time.sleep(0.6)
    assert findings(c, final=True) == []


def test_findings_are_per_key_and_a_reset_forgets_them(make_server: Make) -> None:
    server = make_server(timing="manual", seed=1)
    bad, good = Client(server, key="bad-client"), Client(server, key="good-client")
    submitted(bad)
    assert kinds(findings(bad, final=True)) == ["abandoned-task"]
    assert findings(good, final=True) == []
    everyone = bad.http.get(f"{bad.base}/_mockmj/findings", params={"final": "true"}, timeout=10).json()["items"]
    assert [f["key"] for f in everyone] == ["bad-client"]
    bad.control("POST", "/reset", {"key": "bad-client"})
    assert findings(bad, final=True) == []


def test_bad_final_and_bad_thresholds_are_refused(make_server: Make) -> None:
    c = Client(make_server(timing="manual", seed=1))
    r = c.http.get(f"{c.base}/_mockmj/findings", params={"final": "maybe"}, timeout=10)
    assert r.status_code == 400 and "final" in r.json()["error"]
    with pytest.raises(ValueError, match="findings_polls_per_second"):
        make_server(findings_polls_per_second=0.0)


def test_a_modal_confirm_does_not_make_a_read_task_look_unread() -> None:
    """/submit/modal answers the MODAL task's own id: the task stays the one the client already read."""
    from mockmj.engine.findings import Findings, Seen

    tracker = Findings()
    tracker.observe(Seen(key="k", kind="action", method="POST", path="/mj/submit/action", status=200, code=21,
                         created="1", parent_status="SUCCESS"))
    tracker.observe(Seen(key="k", kind="fetch", method="GET", path="/mj/task/1/fetch", status=200, task_id="1",
                         task_status="MODAL"))
    tracker.observe(Seen(key="k", kind="submit", method="POST", path="/mj/submit/modal", status=200, code=1,
                         created="1"))
    assert tracker.of("k", final=True) == []
