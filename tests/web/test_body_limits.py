"""Control values and bodies checked at the door: a rate limit outside what the limiter can count, a balance past
what JSON readers hold exactly, a chunked body over the size limit — each a clear 4xx, never a 500 later."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from mockmj.config import load_settings
from mockmj.web.app import create_app

KEY = {"Authorization": "Bearer tenant-a"}


@pytest.fixture
def client() -> Any:
    app = create_app(load_settings(max_body_bytes=1000))
    yield app.test_client()
    app.extensions["mockmj"].callbacks.stop()


@pytest.mark.parametrize("rate", [1e-320, 1e308, 0.0001, 200_000, -1, 0])
def test_a_rate_limit_out_of_range_is_refused_and_changes_nothing(client: Any, rate: float) -> None:
    answer = client.patch("/_mockmj/keys/tenant-a", json={"rateLimit": rate})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "rateLimit" in answer.get_data(as_text=True)
    assert client.get("/_mockmj/keys/tenant-a").get_json()["rateLimit"] is None
    assert client.get("/mj/task/list", headers=KEY).status_code == 200


@pytest.mark.parametrize("rate", [0.001, 0.5, 100_000])
def test_a_rate_limit_in_range_is_taken(client: Any, rate: float) -> None:
    assert client.patch("/_mockmj/keys/tenant-a", json={"rateLimit": rate}).status_code == 200
    assert client.get("/mj/task/list", headers=KEY).status_code == 200


def test_a_balance_past_exact_json_numbers_is_refused(client: Any) -> None:
    assert client.patch("/_mockmj/keys/tenant-a", json={"balance": 2**60}).status_code == 400
    assert client.patch("/_mockmj/keys/tenant-a", json={"balance": 2**53}).status_code == 200


def chunked(client: Any, body: bytes) -> Any:
    return client.post("/mj/submit/imagine", headers={**KEY, "Transfer-Encoding": "chunked",
                                                      "Content-Type": "application/json"},
                       input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_a_413(client: Any) -> None:
    answer = chunked(client, b'{"prompt": "x"}' + b" " * 2000)  # valid JSON, then more than the limit of spaces
    assert answer.status_code == 413
    assert "1000 bytes" in answer.get_data(as_text=True)
    assert client.get("/mj/task/list", headers=KEY).get_json() == []


def test_a_chunked_body_within_the_limit_is_read_whole(client: Any) -> None:
    answer = chunked(client, b'{"prompt": "x"}' + b" " * 900)
    assert answer.status_code == 200 and answer.get_json()["code"] == 1


def test_the_access_log_never_shows_a_full_key_in_a_path(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(load_settings(log_control=True))  # control calls are logged only when asked for
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="mockmj.access"):
        client.patch("/_mockmj/keys/sk-live-KEY-ONE-1234567", json={"balance": 5})
        client.get("/_mockmj/keys/sk-live-KEY-ONE-1234567")
    # the lines of these two calls (a mock of an earlier test in this process may log a late line meanwhile)
    lines = [r.getMessage() for r in caplog.records if r.name == "mockmj.access" and "/keys/" in r.getMessage()]
    assert len(lines) == 2
    assert not any("sk-live-KEY-ONE-1234567" in line for line in lines), lines
    assert all("/_mockmj/keys/sk-l…4567" in line for line in lines), lines
    app.extensions["mockmj"].callbacks.stop()
