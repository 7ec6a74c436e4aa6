"""Hostile input, fuzzed, against `mockmj serve --workers 2` on each shared store: schemathesis sends negative (and
positive) data, media included, to every operation of both documents over fresh connections, so both workers write
and read each other's records. No answer may be a 5xx, and the server must keep answering afterwards.

Bounded like tests/serve/test_hostile_fuzz.py: a few fuzzed cases per operation, no coverage phase, no shrinking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.serve.test_hostile_fuzz import CONTROL, PUBLIC
from tests.stores import Worker, flush_redis


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def two_workers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    if request.param == "redis":
        store = request.getfixturevalue("redis_url")
        flush_redis(store)
    else:
        store = f"sqlite:{tmp_path_factory.mktemp('fuzz') / 'mock.db'}"
    server = Worker(store, "--workers", "2", "--timing", "fast")
    yield server
    assert requests.get(server.base + "/_mockmj/health", timeout=10).status_code == 200, "still answering"
    server.stop()


def _call(case: Any, server: Worker) -> None:
    response = case.call(base_url=server.base, headers={"Authorization": "Bearer fuzz-key", "Connection": "close"},
                         timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:300]} "
        f"(body sent: {str(case.body)[:200]})")


@PUBLIC.parametrize()
def test_public_api_on_two_workers_never_answers_5xx(case: Any, two_workers: Worker) -> None:
    _call(case, two_workers)


@CONTROL.parametrize()
def test_control_api_on_two_workers_never_answers_5xx(case: Any, two_workers: Worker) -> None:
    _call(case, two_workers)
