"""Hostile input, smaller things: keys that are no keys, and the proxy dialect's answers to bad input
(Spring's 415 for a body that is not JSON, a plain 404 for an unknown attachment, `Allow` on 405)."""

from __future__ import annotations

import pytest

from tests.helpers import Client, Start, png_data_url, running_mock, session_of
from tests.helpers import Mock as MockServer


@pytest.fixture(scope="module")
def eighty(shared_manual: MockServer) -> MockServer:
    return shared_manual


@pytest.fixture(scope="module")
def proxy(shared_manual_proxy: MockServer) -> MockServer:
    return shared_manual_proxy


PLACEHOLDERS = [
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer undefined"},
    {"Authorization": "null"},
    {"mj-api-secret": "None"},
    {"mj-api-secret": "Bearer undefined"},
]


@pytest.mark.parametrize("headers", PLACEHOLDERS, ids=lambda h: repr(h))
def test_empty_and_placeholder_keys_are_refused_in_any_key_mode(eighty: MockServer, headers: dict[str, str]) -> None:
    r = session_of(eighty).post(eighty.base_url + "/mj/submit/imagine", json={"prompt": "a cat"}, headers=headers,
                                timeout=10)
    assert r.status_code == 401, r.text
    assert "empty or a placeholder" in r.json()["description"]
    keys = session_of(eighty).get(eighty.base_url + "/_mockmj/keys", timeout=10).json()
    assert not any(k["key"].lower().startswith(("bear", "unde", "nul", "no")) for k in keys), keys


def test_a_real_key_after_bearer_still_works(eighty: MockServer) -> None:
    r = session_of(eighty).post(eighty.base_url + "/mj/submit/imagine", json={"prompt": "a cat"},
                      headers={"Authorization": "Bearer   real-key  "}, timeout=10)
    assert r.json()["code"] == 1


def test_placeholder_keys_are_fine_where_no_key_is_needed(starter: Start) -> None:
    yield_ = running_mock(starter, timing="manual", no_auth=True)
    server = next(yield_)
    try:
        r = session_of(server).post(server.base_url + "/mj/submit/imagine", json={"prompt": "a cat"},
                          headers={"Authorization": "Bearer undefined"}, timeout=10)
        assert r.json()["code"] == 1
    finally:
        next(yield_, None)


def test_proxy_answers_415_for_a_body_that_is_not_json(proxy: MockServer) -> None:
    client = Client(proxy, key="media")
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = client.http.post(client.base + "/mj/submit/imagine", data=b'{"prompt":"a cat"}', timeout=10,
                             headers=client.headers({"Content-Type": content_type}))
        assert r.status_code == 415, r.text
        body = r.json()
        assert body["error"] == "Unsupported Media Type" and body["path"] == "/mj/submit/imagine"
        assert content_type in body["message"]
    ok = client.http.post(client.base + "/mj/submit/imagine", data=b'{"prompt":"a cat"}', timeout=10,
                          headers=client.headers({"Content-Type": "application/json;charset=UTF-8"}))
    assert ok.json()["code"] == 1


def test_88api_stays_lenient_about_content_type(eighty: MockServer) -> None:
    client = Client(eighty, key="media")
    r = client.http.post(client.base + "/mj/submit/imagine", data=b'{"prompt":"a cat"}', timeout=10,
                         headers=client.headers({"Content-Type": "text/plain"}))
    assert r.json()["code"] == 1, "relays parse the body whatever its Content-Type says"


def test_unknown_attachment(eighty: MockServer, proxy: MockServer) -> None:
    missing = "/attachments/1/2/nothing_here.png"
    r = session_of(proxy).get(proxy.base_url + missing, timeout=10)
    assert r.status_code == 404 and r.json()["error"] == "Not Found" and r.json()["path"] == missing
    r = session_of(eighty).get(eighty.base_url + missing, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == 21


def test_405_names_the_allowed_methods(eighty: MockServer, proxy: MockServer) -> None:
    for server in (eighty, proxy):
        http = session_of(server)
        r = http.get(server.base_url + "/mj/submit/imagine", headers={"Authorization": "Bearer k"}, timeout=10)
        assert r.status_code == 405, r.text
        assert set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}, r.headers  # Flask answers OPTIONS
        r = http.delete(server.base_url + "/mj/task/1/fetch", headers={"Authorization": "Bearer k"}, timeout=10)
        assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_proxy_enforces_the_image_count_with_upstreams_message(proxy: MockServer) -> None:
    client = Client(proxy, key="many-images")
    r = client.post("/mj/submit/imagine", {"prompt": "a cat", "base64Array": [png_data_url((4, 4))] * 1000})
    assert r.json() == {"code": 4, "description": "base64List参数错误", "result": None, "properties": {}}


def test_notify_hook_with_a_newline_is_refused(eighty: MockServer, proxy: MockServer) -> None:
    for server, code in ((eighty, 21), (proxy, 4)):
        client = Client(server, key="hook-newline")
        r = client.post("/mj/submit/imagine", {"prompt": "a cat", "notifyHook": "http://127.0.0.1:9/hook\n"})
        assert r.json()["code"] == code, r.text
        assert client.get("/mj/task/list").json() == []
