"""The journal keeps the headers a client sent, and only those. granian builds each request's WSGI environ from a
copy of the server's process environment, so a server variable named like a header (HTTP_PROXY, which may carry
a proxy's password) must not read as one; a client's header of the same name, with its own value, still does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.stores import Worker

SERVER_PROXY = "http://mock-user:server-secret@proxy.invalid:3128"
AUTH = {"Authorization": "Bearer journal-headers-key", "X-Client-Note": "polling"}


@pytest.fixture
def base() -> Iterator[str]:
    worker = Worker("memory", "--timing", "manual",
                    env={"HTTP_PROXY": SERVER_PROXY, "HTTP_X_SERVER_ONLY": "from-the-environment"})
    try:
        yield worker.base
    finally:
        worker.stop()


def journal(base: str) -> list[dict[str, Any]]:
    page = requests.get(base + "/_mockmj/requests", timeout=5).json()
    return [entry for entry in page["items"] if entry["path"].startswith("/mj/")]


def test_server_variables_named_like_headers_are_not_journalled(base: str) -> None:
    session = requests.Session()
    session.trust_env = False  # the client's own HTTP_PROXY-free environment: it talks to loopback directly
    task_id = session.post(base + "/mj/submit/imagine", json={"prompt": "a heron"}, headers=AUTH, timeout=5).json()
    requests.post(base + "/_mockmj/clock/advance", json={"seconds": 600}, timeout=5)
    fetch = f"{base}/mj/task/{task_id['result']}/fetch"
    for _ in range(3):  # the first fetch takes the whole way; the later ones are answered from the kept bytes
        assert session.get(fetch, headers=AUTH, timeout=5).json()["status"] == "SUCCESS"
    session.get(fetch, headers={**AUTH, "Proxy": "client-value"}, timeout=5)

    entries = journal(base)
    assert [entry["method"] for entry in entries] == ["POST", "GET", "GET", "GET", "GET"]
    for entry in entries:
        headers = entry["requestHeaders"]
        assert headers["X-Client-Note"] == "polling"
        assert "X-Server-Only" not in headers
        assert "server-secret" not in json.dumps(headers)
    assert [entry["requestHeaders"].get("Proxy") for entry in entries] == [None] * 4 + ["client-value"]
