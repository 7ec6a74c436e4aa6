"""Making tasks for a clause: submit (or press), follow to the end through the observer, need SUCCESS."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .actions import press
from .checks import TERMINAL, check_no_server_error, check_submit_envelope, short
from .clauses import ClauseFailure, Recorder
from .client import Client
from .common import need, post_with_room
from .grammar import parse
from .observe import Observer, describe_history
from .target import Target


@dataclass(frozen=True)
class Made:
    grid: dict[str, Any]
    upscaled: dict[str, Any]


def submit(client: Client, target: Target, rec: Recorder, path: str, body: dict[str, Any], what: str) -> str:
    """Submit; the task id, or skip (not verified) naming the answer."""
    ex = post_with_room(client, target.expect, path, body, client.timeout * 3, target.local)
    with rec.soft():
        check_no_server_error(rec, ex)
        task_id = check_submit_envelope(rec, ex, target.expect)
    need(task_id is not None, f"{what} was not accepted: {ex.brief()}")
    assert task_id is not None
    return task_id


def finish(client: Client, observer: Observer, task_id: str, what: str) -> dict[str, Any]:
    """Follow a task to its end through the observer; skip (not verified) unless it ends SUCCESS. What the
    observer finds wrong on the way is recorded against its clauses and does not stop the test's own checks."""
    deadline = time.monotonic() + observer.task_timeout
    while True:
        try:
            task = observer.wait_terminal(client, task_id, until=deadline)
            break
        except ClauseFailure:
            last = observer.watched(task_id).last or {}
            if last.get("status") in TERMINAL or time.monotonic() >= deadline:
                task = last
                break
    need(task.get("status") == "SUCCESS",
         f"{what} did not reach SUCCESS ({describe_history(observer.watched(task_id).snapshots)})")
    return task


def make_task(client: Client, target: Target, rec: Recorder, observer: Observer, path: str, body: dict[str, Any],
              what: str) -> dict[str, Any]:
    return finish(client, observer, submit(client, target, rec, path, body, what), what)


def button(task: dict[str, Any], kind: str, detail: str = "", index: int | None = None) -> dict[str, Any] | None:
    """The task's first button of this kind (and detail prefix, and index), if any."""
    for b in task.get("buttons") or []:
        parsed = parse(str(b.get("customId"))) if isinstance(b, dict) else None
        if (parsed is not None and parsed.kind == kind and parsed.detail.startswith(detail)
                and (index is None or parsed.index == index)):
            return b
    return None


def press_and_finish(client: Client, target: Target, rec: Recorder, observer: Observer, parent: dict[str, Any],
                     kind: str, what: str, detail: str = "", index: int | None = None) -> dict[str, Any]:
    found = button(parent, kind, detail, index)
    need(found is not None, f"task {parent.get('id')} offers no {kind} {detail} button for {what} (BTN-1 says "
                            f"which it should): {short([b.get('customId') for b in parent.get('buttons') or []])}")
    assert found is not None
    pressed = press(client, target, rec, observer, parent, found)
    need(pressed.task_id is not None, f"{what}: {pressed.outcome}")  # a refusal has already failed BTN-2
    assert pressed.task_id is not None
    return finish(client, observer, pressed.task_id, what)
