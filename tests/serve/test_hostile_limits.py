"""Hostile input, size and shape: bodies too large or too deep, fields over their limits, too many images.

Each refusal must name the field and the limit, use the dialect's code, create no task and charge nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, balance, png_data_url, running_mock, task_count

DEEP = "[" * 2000 + "]" * 2000


@pytest.fixture(scope="module")
def eighty() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", max_body_bytes=256 * 1024)


@pytest.fixture(scope="module")
def proxy() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", dialect="proxy", max_body_bytes=256 * 1024)


def fresh(server: MockServer, key: str) -> Client:
    client = Client(server, key=key)
    client.control("POST", "/reset", {"key": key})
    return client


def untouched(client: Client, credit_before: int) -> None:
    assert task_count(client) == 0, "a refused request created a task"
    assert balance(client) == credit_before, "a refused request spent credit"


@pytest.mark.parametrize(("field", "limit"), [("prompt", 6000), ("state", 255), ("notifyHook", 2000)])
def test_88api_text_limits_answer_400_code_21_naming_field_and_limit(eighty: MockServer, field: str,
                                                                      limit: int) -> None:
    client = fresh(eighty, f"limits-{field}")
    credit = balance(client)
    body = {"prompt": "a cat", field: "x" * (limit + 1)}
    if field == "notifyHook":
        body[field] = "http://127.0.0.1/" + "x" * limit
    r = client.post("/mj/submit/imagine", body)
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["code"] == 21 and answer["result"] is None
    assert field in answer["description"] and str(limit) in answer["description"], answer
    untouched(client, credit)
    at_limit = {"prompt": "a cat", field: "y" * limit} if field != "notifyHook" else {"prompt": "a cat"}
    assert client.post("/mj/submit/imagine", at_limit).json()["code"] == 1, "the limit itself is allowed"


@pytest.mark.parametrize(("field", "limit", "message"), [
    ("prompt", 6000, "Prompt参数过长，最大6000字符"),
    ("state", 255, "State参数过长，最大255字符"),
    ("notifyHook", 2000, "NotifyHook参数过长，最大2000字符"),
])
def test_proxy_text_limits_answer_code_4_with_trueai_wording(proxy: MockServer, field: str, limit: int,
                                                              message: str) -> None:
    client = fresh(proxy, f"plimits-{field}")
    credit = balance(client)
    r = client.post("/mj/submit/imagine", {"prompt": "a cat", field: "x" * (limit + 1)})
    assert r.status_code == 200 and r.json() == {"code": 4, "description": message, "result": None,
                                                 "properties": {}}
    untouched(client, credit)


def test_too_many_reference_images_are_refused_in_both_dialects(eighty: MockServer, proxy: MockServer) -> None:
    image = png_data_url((8, 8))
    for server, status, code in ((eighty, 400, 21), (proxy, 200, 4)):
        client = fresh(server, "limits-images")
        credit = balance(client)
        r = client.post("/mj/submit/imagine", {"prompt": "a cat", "base64Array": [image] * 6})
        assert r.status_code == status and r.json()["code"] == code, r.text
        untouched(client, credit)
        upload = client.post("/mj/submit/upload-discord-images", {"base64Array": [image] * 6})
        assert upload.json()["code"] == code, upload.text


def test_a_body_over_max_body_bytes_answers_413_in_the_dialects_shape(eighty: MockServer, proxy: MockServer) -> None:
    big = json.dumps({"prompt": "a cat", "state": "s", "pad": "x" * (300 * 1024)})
    for server in (eighty, proxy):
        client = fresh(server, "limits-413")
        credit = balance(client)
        r = client.http.post(client.base + "/mj/submit/imagine", data=big, timeout=30,
                             headers=client.headers({"Content-Type": "application/json"}))
        assert r.status_code == 413, r.text
        if server is eighty:
            assert r.json()["code"] == 413 and "262144 bytes" in r.json()["description"]
        else:
            assert r.json()["error"] == "Payload Too Large", "Spring Boot 2's reason phrase"
            assert r.json()["status"] == 413
        untouched(client, credit)


def test_json_nested_too_deeply_answers_400_on_public_and_control_endpoints(eighty: MockServer,
                                                                          proxy: MockServer) -> None:
    for server in (eighty, proxy):
        client = fresh(server, "limits-deep")
        for path in ("/mj/submit/imagine", "/mj/submit/action", "/mj/task/list-by-condition"):
            r = client.http.post(client.base + path, data=DEEP, timeout=30,
                                 headers=client.headers({"Content-Type": "application/json"}))
            assert r.status_code == 400, (path, r.status_code, r.text)
        nested = {"prompt": "a cat", "accountFilter": {"x": json.loads("[" * 40 + "]" * 40)}}
        r = client.post("/mj/submit/imagine", nested)
        assert r.status_code == 400 and "nests deeper than 32 levels" in r.text, r.text
        for path in ("/_mockmj/rules", "/_mockmj/clock/advance", "/_mockmj/reset"):
            r = requests.post(client.base + path, data=DEEP, headers={"Content-Type": "application/json"}, timeout=30)
            assert r.status_code == 400 and "nests deeper" in r.json()["error"], (path, r.text)
        untouched(client, balance(client))


def test_list_returns_at_most_the_latest_100(eighty: MockServer) -> None:
    client = fresh(eighty, "limits-list")
    ids = []
    for i in range(105):
        if i % 10 == 0:
            client.advance(120)  # the account holds 13 tasks at a time: let the earlier ones finish
        ids.append(client.imagine(f"cat {i}").json()["result"])
    listed = client.get("/mj/task/list").json()
    assert len(listed) == 100
    assert set(t["id"] for t in listed) == set(ids[5:]), "the latest 100, the 5 oldest left out"


def test_finished_tasks_beyond_max_tasks_are_evicted_oldest_first_and_journalled() -> None:
    with _mock(max_tasks=20) as server:
        client = Client(server, key="evict")
        first = [client.imagine(f"old {i}").json()["result"] for i in range(10)]
        client.advance(120)  # the first ten finish
        oldest_image = client.fetch(first[0])["imageUrl"]
        assert requests.get(oldest_image, timeout=10).status_code == 200
        unfinished = [client.imagine(f"waiting {i}", ).json()["result"] for i in range(8)]
        more = [client.imagine(f"new {i}").json()["result"] for i in range(5)]  # 23 tasks > 20
        assert client.get(f"/mj/task/{first[0]}/fetch").status_code == 404, "the oldest finished task went"
        assert requests.get(oldest_image, timeout=10).status_code == 404, "and its image with it"
        assert all(client.get(f"/mj/task/{t}/fetch").status_code == 200 for t in unfinished + more), \
            "unfinished tasks are never evicted"
        assert client.control("GET", "/health")["tasks"] <= 20
        entries = client.control("GET", "/requests?operationId=mockmjEviction")["items"]
        assert entries and first[0] in entries[0]["body"] and "max_tasks=20" in entries[0]["body"]


def _mock(**options: object) -> MockServer:
    from mockmj.serve.inprocess import start_mock

    return start_mock(timing="manual", strict=True, **options)


def test_unused_keys_are_forgotten_in_any_key_mode() -> None:
    import time

    with _mock(idle_key_seconds=1) as server:
        idle, busy = Client(server, key="idle-key"), Client(server, key="busy-key")
        task = idle.imagine("a cat").json()["result"]
        upload = idle.post("/mj/submit/upload-discord-images", {"base64Array": [png_data_url((8, 8))]}).json()
        assert balance(idle) < 1_000_000
        time.sleep(1.5)  # the idle key is not used; the busy one is, which lets the mock sweep
        busy.get("/mj/task/list")
        keys = [k["key"] for k in busy.control("GET", "/keys")]
        assert "id…ey" not in keys and "bu…ey" in keys, keys
        assert busy.control("GET", "/health")["tasks"] == 0, "the idle key's task went with it"
        assert requests.get(upload["result"][0], timeout=10).status_code == 404, "its uploads went too"
        assert idle.get(f"/mj/task/{task}/fetch").status_code == 404, "coming back, the key starts afresh"


def test_journal_is_capped_by_bytes_as_well_as_entries() -> None:
    with _mock(journal_bytes=20_000) as server:
        client = Client(server, key="journal-bytes")
        for i in range(60):
            client.imagine(f"a long prompt number {i} " + "z" * 250)
        page = client.control("GET", "/requests")
        assert page["total"] == 60
        assert 10 < len(page["items"]) < 60, len(page["items"])
        assert page["items"][-1]["seq"] == 60, "the newest entries are kept"
