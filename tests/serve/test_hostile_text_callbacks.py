"""Any text accepted at submit renders everywhere later, the callbacks to a real receiver on a loopback socket
included (the rest of hostile text is tested in tests/web/test_hostile_text.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, Receiver, nothing
from tests.web.test_hostile_text import TEXT


@pytest.fixture(scope="module")
def server(shared_manual: MockServer) -> MockServer:
    return shared_manual


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@settings(max_examples=40, deadline=None)
@given(prompt=TEXT, state=st.one_of(st.none(), TEXT))
def test_any_text_accepted_at_submit_renders_everywhere_later(server: MockServer, hook: Receiver, prompt: str,
                                                             state: str | None) -> None:
    client = Client(server, key="any-text")
    r = client.post("/mj/submit/imagine", {"prompt": prompt, "state": state, "notifyHook": hook.url})
    if r.json()["code"] != 1:
        assert r.status_code in (200, 400), r.text  # e.g. a blank prompt: refused, and cleanly
        return
    task_id = r.json()["result"]
    assert client.fetch(task_id)["state"] == (nothing(client) if state is None else state)
    for path in ("/mj/task/list", "/mj/task/queue"):
        assert client.get(path).status_code == 200, path
    listed = client.post("/mj/task/list-by-condition", {"ids": [task_id]})
    assert listed.status_code == 200 and listed.json()[0]["id"] == task_id
    client.advance(60)
    assert client.fetch(task_id)["status"] in ("SUCCESS", "FAILURE")
    sent = [e for e in client.control("GET", f"/callbacks?taskId={task_id}")["items"] if e["attempt"]]
    assert sent and all(e["httpStatus"] == 200 for e in sent), sent
    assert hook.payloads(task_id), "the callbacks of the task reached the receiver"
    journal = client.control("GET", "/requests?operationId=submitImagine&limit=1")["items"]
    assert journal and journal[-1]["body"] is not None
