"""A callback that fails is not silent: each failed attempt is logged at WARNING on `mockmj.callbacks` with the
task id, the URL (without its query) and the reason, besides its outbox entry."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, Receiver, running_mock, submit
from tests.serve.test_cli import free_port


@pytest.fixture(scope="module")
def shared() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", seed=4)


def outbox_of(c: Client, task_id: str, count: int) -> list[dict[str, Any]]:
    """The outbox entries of a task once `count` are there (bounded wait: delivery runs on its own thread)."""
    deadline = time.monotonic() + 20
    while True:
        items = c.control("GET", f"/callbacks?taskId={task_id}")["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def warnings_of(caplog: pytest.LogCaptureFixture, task_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mockmj.callbacks" and r.levelno == logging.WARNING
            and task_id in r.getMessage()]


def test_a_callback_answered_500_is_logged_with_its_task_and_status(shared: MockServer,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mockmj.callbacks")
    receiver = Receiver(statuses=(500,))
    try:
        c = Client(shared)
        task_id = submit(c, "/mj/submit/imagine", {"prompt": "a fox", "notifyHook": receiver.url + "?token=s3cret"})[
            "result"]
        c.advance(120)
        entries = outbox_of(c, task_id, 2)
        assert entries and all(e["httpStatus"] == 500 for e in entries)
        deadline = time.monotonic() + 10
        while len(warnings_of(caplog, task_id)) < len(entries) and time.monotonic() < deadline:
            time.sleep(0.05)
        records = warnings_of(caplog, task_id)
        assert len(records) == len(entries)
        message = records[0].getMessage()
        assert f"task {task_id}" in message and "HTTP 500" in message and receiver.url in message
        assert "s3cret" not in message  # the query (a token, perhaps) is left out
        assert records[0].fields["taskId"] == task_id and records[0].fields["httpStatus"] == 500  # type: ignore[attr-defined]
    finally:
        receiver.close()


def test_a_callback_nobody_listens_for_is_logged_with_the_error(shared: MockServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mockmj.callbacks")
    c = Client(shared)
    task_id = submit(c, "/mj/submit/imagine", {"prompt": "a fox",
                                               "notifyHook": f"http://127.0.0.1:{free_port()}/hook"})["result"]
    c.advance(120)
    assert outbox_of(c, task_id, 1)
    deadline = time.monotonic() + 10
    while not warnings_of(caplog, task_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    (first, *_) = warnings_of(caplog, task_id)
    assert "ConnectionError" in first.getMessage()
