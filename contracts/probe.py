"""The probe: one Imagine task, submitted once per run and followed to its end.

Against a paid API every billable request counts, so one task feeds many clauses: the envelope of
its submission, its lifecycle, its image and buttons, its callbacks, list-by-condition and the
cross-key isolation. Gathering never asserts; the tests check what was gathered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .checks import TERMINAL
from .client import Client, Exchange
from .common import post_with_room, submit_body, token
from .dialects import Expectations, body_code
from .target import Target


@dataclass
class Followed:
    """A task created by the suite, with every fetch answer seen while following it."""

    submit: Exchange
    task_id: str | None
    state: str
    hook_token: str | None
    fetches: list[Exchange] = field(default_factory=list)

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        out = []
        for ex in self.fetches:
            data = ex.json_or_none() if ex.status == 200 else None
            if isinstance(data, dict):
                out.append(data)
        return out

    @property
    def final(self) -> dict[str, Any] | None:
        snaps = self.snapshots
        return snaps[-1] if snaps else None

    @property
    def finished(self) -> bool:
        return bool(self.final) and self.final.get("status") in TERMINAL  # type: ignore[union-attr]


def accepted_id(ex: Exchange, expect: Expectations) -> str | None:
    """The task id of an accepted (or modal) submission, tolerating a number in `result`."""
    data = ex.json_or_none()
    if ex.status != 200 or not isinstance(data, dict):
        return None
    code = body_code(ex)
    if code in expect.accepted_codes or code == expect.modal_code:
        result = data.get("result")
        if isinstance(result, (str, int)) and not isinstance(result, bool) and str(result).strip():
            return str(result)
    return None


def follow(client: Client, task_id: str, timeout: float, local: bool, into: list[Exchange]) -> None:
    """Poll fetch until terminal, the deadline, or a fetch that does not return the task."""
    deadline = time.monotonic() + timeout
    pause = 0.0 if local else 2.0
    last: Any = None
    while True:
        ex = client.get(f"/mj/task/{task_id}/fetch")
        into.append(ex)
        data = ex.json_or_none() if ex.status == 200 else None
        if not isinstance(data, dict) or data.get("status") in TERMINAL or time.monotonic() >= deadline:
            return
        key = (data.get("status"), data.get("progress"))
        if key != last:
            last, pause = key, (0.0 if local else 2.0)
        else:
            pause = min(pause * 2 or 0.02, 0.5 if local else 10.0)
        time.sleep(pause)


def submit_and_follow(client: Client, target: Target, path: str, body: dict[str, Any], timeout: float,
                      headers: dict[str, str] | None = None, with_hook: bool = True) -> Followed:
    state = f"contract-state-{token()}"
    hook_token = token() if with_hook and target.receiver else None
    body = dict(body)
    body["state"] = state
    if hook_token and target.receiver:
        body["notifyHook"] = target.receiver.url_for(hook_token)
    ex = post_with_room(client, target.expect, path, body, client.timeout * 3, target.local, headers=headers)
    tid = accepted_id(ex, target.expect)
    followed = Followed(submit=ex, task_id=tid, state=state, hook_token=hook_token)
    if tid is not None:
        follow(client, tid, timeout, target.local, followed.fetches)
    return followed


def run_probe(client: Client, target: Target, timeout: float) -> Followed:
    return submit_and_follow(client, target, "/mj/submit/imagine",
                             submit_body("contract probe: a lighthouse at dusk, oil painting"), timeout)
