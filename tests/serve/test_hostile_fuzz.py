"""Hostile input, fuzzed: schemathesis sends negative (and positive) data to every operation of both
OpenAPI documents, the control plane's included, in both dialects, over a real socket. No answer may
be a 5xx, and the mock must keep answering afterwards.

Bounded for CI: a few fuzzed cases per operation, no coverage phase (its fixed ~65 cases per submit
operation would multiply the run time), no shrinking and no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from mockmj.serve.inprocess import MockServer, start_mock
from mockmj.web.spec import spec_text

MAX_EXAMPLES = 6


def _schema(name: str) -> Any:
    config = schemathesis.Config.from_dict({
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none", "no-shrink": True,
                       "deterministic": True, "with-security-parameters": False},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    })
    return schemathesis.openapi.from_file(spec_text(name), config=config)


PUBLIC = _schema("openapi.yaml")
CONTROL = _schema("control-openapi.yaml")


@pytest.fixture(scope="module", params=["88api", "proxy"])
def target(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    # strict mode stays on: a response that breaks the document is a 500 here, so it is caught too
    server = start_mock(dialect=request.param, timing="fast", strict=True)
    yield server
    assert requests.get(server.base_url + "/_mockmj/health", timeout=10).status_code == 200, "still answering"
    server.stop()


def _call(case: Any, server: MockServer) -> requests.Response:
    response = case.call(base_url=server.base_url, headers={"Authorization": "Bearer fuzz-key"}, timeout=20)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:300]} "
        f"(body sent: {str(case.body)[:200]})")
    return response


@PUBLIC.parametrize()
def test_public_api_never_answers_5xx(case: Any, target: MockServer) -> None:
    _call(case, target)


@CONTROL.parametrize()
def test_control_api_never_answers_5xx(case: Any, target: MockServer) -> None:
    _call(case, target)
