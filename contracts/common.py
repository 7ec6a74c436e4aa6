"""Small helpers shared by the clause tests: ids, images, the "created no task" check."""

from __future__ import annotations

import base64
import io
import secrets
import time
from functools import cache
from typing import Any

import pytest

from .checks import rejected_without_task
from .clauses import Recorder
from .client import Client, Exchange
from .dialects import Expectations


def unknown_task_id() -> str:
    """A 16-digit id no target has handed out (upstream ids are ms timestamps + 3 digits)."""
    return "9" + "".join(secrets.choice("0123456789") for _ in range(15))


def token() -> str:
    return secrets.token_hex(6)


@cache
def png_data_url(width: int = 64, height: int = 64, colour: tuple[int, int, int] = (200, 80, 40)) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def undecodable_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(b"this is not an image, only text").decode("ascii")


def list_ids(client: Client) -> set[str] | None:
    """Ids the key can see through GET /mj/task/list, or None when the target has no such listing."""
    ex = client.get("/mj/task/list")
    data = ex.json_or_none() if ex.status == 200 else None
    if not isinstance(data, list):
        return None
    return {str(t.get("id")) for t in data if isinstance(t, dict)}


class NoTaskWitness:
    """Checks, through the public API only, that a refused request created no task."""

    def __init__(self, client: Client, rec: Recorder, expect: Expectations, cid: str) -> None:
        self.client, self.rec, self.expect, self.cid = client, rec, expect, cid
        self.before = list_ids(client)

    def verify(self, ex: Exchange, what: str) -> None:
        rec, cid = self.rec, self.cid
        rec.check(cid, rejected_without_task(ex, self.expect),
                  lambda: f"{what} was accepted: {ex.brief()}")
        data = ex.json_or_none()
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, (str, int)) and str(result).isdigit():
            got = self.client.get(f"/mj/task/{result}/fetch")
            found = got.status == 200 and isinstance(got.json_or_none(), dict)
            rec.check(cid, not found, lambda: f"{what} was refused but task {result} exists: {got.brief()}")
        if self.before is not None:
            after = list_ids(self.client)
            if after is not None:
                new = after - self.before
                rec.reading(cid, "no new task in GET /mj/task/list")
                rec.check(cid, not new, lambda: f"{what} created task(s) {sorted(new)} (GET /mj/task/list)")
        else:
            rec.reading(cid, "GET /mj/task/list unavailable: checked the answer's result only")


def refused_for_capacity(ex: Exchange, expect: Expectations) -> bool:
    """Busy (HTTP 429, queue full) or out of accounts or balance: a refusal that says nothing of the request."""
    data = ex.json_or_none()
    code = data.get("code") if isinstance(data, dict) else None
    return ex.status == 429 or (ex.status == 200 and code in expect.capacity_codes)


def post_with_room(client: Client, expect: Expectations, path: str, body: Any, patience: float,
                   local: bool, headers: dict[str, str] | None = None) -> Exchange:
    """POST; while the target answers that it has no room (a full queue, 429), wait and send again, as a client
    would, for up to `patience` seconds. Each attempt is a request of its own (billable ones are counted)."""
    deadline = time.monotonic() + patience
    pause = 0.2 if local else 5.0
    while True:
        ex = client.post(path, body, headers=headers)
        if not refused_for_capacity(ex, expect) or time.monotonic() + pause > deadline:
            return ex
        retry = ex.headers.get("retry-after", "")
        time.sleep(float(retry) if retry.isdigit() and not local else pause)


def submit_body(prompt: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"botType": "MID_JOURNEY", "prompt": prompt, "base64Array": []}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


NOT_APPLICABLE = "not applicable: "


def need(condition: bool, reason: str) -> None:
    """Skip unless the condition holds: the test's clauses are reported *not verified*, with the reason."""
    if not condition:
        pytest.skip(reason)


def applies(condition: bool, reason: str) -> None:
    """Skip unless the condition holds, the target having said of itself that the promise does not apply
    there (reported *not applicable*, which a strict run accepts)."""
    if not condition:
        pytest.skip(NOT_APPLICABLE + reason)


def need_budget(run: Any, n: int) -> None:
    """Skip unless `n` billable requests are left, so a test never stops half-way for lack of budget."""
    left = run.budget.remaining()
    if left < n:
        pytest.skip(f"needs {n} billable request(s); the budget (--mj-budget {run.budget.limit}) has {left:g} left")
