"""Hostile input, the control plane: a token guards it, secrets never leave it whole, and a control
body is checked completely before anything changes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from mockmj.model.hosts import is_loopback
from mockmj.serve.inprocess import MockServer, start_mock
from tests.helpers import Client

TOKEN = "s3cret-control-token"
HEADER = "X-MockMJ-Control-Token"


@pytest.fixture(scope="module")
def guarded() -> Iterator[MockServer]:
    server = start_mock(timing="manual", strict=True, control_token=TOKEN, api_keys=["sk-live-abcdef123456"])
    yield server
    server.stop()


def test_every_control_call_but_health_needs_the_token(guarded: MockServer) -> None:
    base = guarded.base_url + "/_mockmj"
    assert requests.get(base + "/health", timeout=10).status_code == 200, "liveness probes need no token"
    calls = [("GET", "/keys"), ("GET", "/requests"), ("GET", "/rules"), ("POST", "/reset"),
             ("GET", "/clock"), ("GET", "/accounts"), ("GET", "/callbacks"), ("GET", "/openapi.yaml")]
    for method, path in calls:
        missing = requests.request(method, base + path, json={}, timeout=10)
        assert missing.status_code == 401 and HEADER in missing.json()["error"], (path, missing.text)
        wrong = requests.request(method, base + path, json={}, headers={HEADER: "guess"}, timeout=10)
        assert wrong.status_code == 401 and "does not match" in wrong.json()["error"], (path, wrong.text)
        right = requests.request(method, base + path, json={}, headers={HEADER: TOKEN}, timeout=10)
        assert right.status_code == 200, (path, right.text)


def test_a_refused_control_call_changes_nothing(guarded: MockServer) -> None:
    base = guarded.base_url + "/_mockmj"
    requests.post(base + "/rules", json={"respond": {"code": 25}}, timeout=10)
    rules = requests.get(base + "/rules", headers={HEADER: TOKEN}, timeout=10).json()
    assert rules == [], "a rule sent without the token was not added"


def test_secrets_are_masked_in_every_listing(guarded: MockServer) -> None:
    key = "sk-live-abcdef123456"
    client = Client(guarded, key=key)
    client.imagine("a cat")
    headers = {HEADER: TOKEN}
    base = guarded.base_url + "/_mockmj"
    requests.post(base + "/rules", json={"match": {"key": key}, "respond": {"latencyMs": 1}}, headers=headers,
                  timeout=10)
    for path in ("/keys", f"/keys/{key}", "/requests", "/rules", "/callbacks"):
        text = requests.get(base + path, headers=headers, timeout=10).text
        assert key not in text and "sk-live-abcdef" not in text, (path, text)
    assert requests.get(base + "/keys", headers=headers, timeout=10).json()[0]["key"] == "sk-l…3456"
    filtered = requests.get(base + "/requests", params={"key": key}, headers=headers, timeout=10).json()["items"]
    assert filtered and {e["key"] for e in filtered} == {"sk-l…3456"}, "filtering by the full key still works"


def test_patching_an_account_with_a_float_count_works_and_a_bad_body_changes_nothing() -> None:
    with start_mock(timing="manual", strict=True) as server:
        client = Client(server)
        account = client.control("GET", "/accounts")[0]["instanceId"]
        changed = client.control("PATCH", f"/accounts/{account}", {"enabled": False, "coreSize": 4.0})
        assert changed["enabled"] is False and changed["coreSize"] == 4
        bad = requests.patch(f"{server.base_url}/_mockmj/accounts/{account}",
                             json={"enabled": True, "coreSize": 4.5}, timeout=10)
        assert bad.status_code == 400 and "coreSize" in bad.json()["error"]
        assert client.control("GET", "/accounts")[0]["enabled"] is False, "nothing of a refused body applied"
        bad_key = requests.patch(f"{server.base_url}/_mockmj/keys/test-key", json={"balance": 5, "rateLimit": -1},
                                 timeout=10)
        assert bad_key.status_code == 400
        client.imagine("make the key exist")
        assert client.control("GET", "/keys/test-key")["balance"] != 5


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.1.2.3", "example.org"))


def test_serving_beyond_loopback_without_a_token_warns_on_start(tmp_path) -> None:
    # listening on every interface (as the container image does); only loopback traffic is sent
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--host", "0.0.0.0", "--port", str(port)],
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stderr is not None
        first, second = process.stderr.readline(), process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert f"on http://0.0.0.0:{port}" in first, "the start-up line stays first"
    assert "WARNING" in second and "--control-token" in second, second
