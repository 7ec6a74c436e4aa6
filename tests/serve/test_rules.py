"""Control rules over a real socket: each kind fires exactly as many times as asked, matching narrows
by operation, button kind, key, prompt and account, and the rule list shows what is left."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from mockmj.serve.inprocess import MockServer
from tests.helpers import Client, Receiver, button, press, running_mock

ACCOUNT = "1118138338562560102"  # the default simulated account


@pytest.fixture(scope="module")
def shared() -> Iterator[MockServer]:
    yield from running_mock(timing="manual", seed=31)


def tenant(server: MockServer, name: str) -> Client:
    return Client(server, key="rules-" + hashlib.sha1(name.encode()).hexdigest()[:12])


@pytest.fixture
def client(shared: MockServer, request: pytest.FixtureRequest) -> Iterator[Client]:
    c = tenant(shared, request.node.nodeid)
    yield c
    c.control("DELETE", "/rules")
    c.control("POST", "/reset", {"key": c.key})


def add_rule(client: Client, match: dict[str, Any], respond: dict[str, Any], times: int | None = None) -> dict:
    body: dict[str, Any] = {"match": {"key": client.key, **match}, "respond": respond}
    if times is not None:
        body["times"] = times
    return client.control("POST", "/rules", body)


def rules(client: Client) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in client.control("GET", "/rules")}


def imagine(client: Client, prompt: str = "a green owl", **extra: Any) -> requests.Response:
    return client.post("/mj/submit/imagine", {"prompt": prompt, **extra})


def finished_grid(client: Client) -> dict[str, Any]:
    r = imagine(client, "a grid to press")
    assert r.json()["code"] == 1, r.text
    client.advance(60)
    task = client.fetch(r.json()["result"])
    assert task["status"] == "SUCCESS"
    return task


# --------------------------------------------------------------------------- kinds and counts
def test_code_fires_for_the_next_n_then_normal(client: Client) -> None:
    rule = add_rule(client, {"operation": "submitImagine"}, {"code": 25}, times=3)
    assert (rule["times"], rule["remaining"], rule["fired"]) == (3, 3, 0)
    first = imagine(client)
    assert first.status_code == 200
    assert first.json()["code"] == 25 and first.json()["result"] is None
    assert first.json()["description"]
    listed = rules(client)[rule["id"]]
    assert (listed["remaining"], listed["fired"]) == (2, 1)
    assert [imagine(client).json()["code"] for _ in range(3)] == [25, 25, 1]
    assert rule["id"] not in rules(client), "a spent rule leaves the list"
    assert len(client.get("/mj/task/list").json()) == 1, "a forced code creates no task"


def test_code_with_a_description_and_status(client: Client) -> None:
    add_rule(client, {}, {"code": 23, "description": "busy, come back", "httpStatus": 503}, times=1)
    r = imagine(client)
    assert r.status_code == 503
    assert r.json()["code"] == 23 and r.json()["description"] == "busy, come back"


def test_http_status_fires_exactly(client: Client) -> None:
    add_rule(client, {"operation": "submitImagine"}, {"httpStatus": 429}, times=2)
    statuses = [imagine(client).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 503])
def test_http_5xx_answers_in_the_dialect_shape(client: Client, status: int) -> None:
    rule = add_rule(client, {"operation": "submitImagine"}, {"httpStatus": status}, times=2)
    replies = [imagine(client) for _ in range(3)]
    assert [r.status_code for r in replies] == [status, status, 200]
    assert replies[0].json()["code"] == status
    assert replies[0].json()["description"] == f"Forced by mockmj rule {rule['id']}"


def test_429_carries_retry_after(client: Client) -> None:
    add_rule(client, {}, {"httpStatus": 429, "retryAfter": 7}, times=1)
    add_rule(client, {}, {"httpStatus": 429}, times=1)
    first, second, third = imagine(client), imagine(client), imagine(client)
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert second.status_code == 429 and second.headers["Retry-After"].isdigit()
    assert third.status_code == 200 and "Retry-After" not in third.headers


def test_latency_makes_the_answer_measurably_slower(client: Client) -> None:
    add_rule(client, {"operation": "submitImagine"}, {"latencyMs": 400}, times=1)
    started = time.perf_counter()
    slow = imagine(client)
    elapsed = time.perf_counter() - started
    fast = imagine(client)
    assert slow.json()["code"] == 1 and fast.json()["code"] == 1, "latency alone lets the request through"
    assert 0.4 <= elapsed < 5
    journal = client.control("GET", f"/requests?key={client.key}&operationId=submitImagine")["items"]
    assert journal[-2]["latencyMs"] >= 400
    assert journal[-1]["latencyMs"] < 400


def test_outcome_rule_fixes_the_outcome_n_times(client: Client) -> None:
    add_rule(client, {"operation": "submitImagine"}, {"outcome": "fail:ruled out"}, times=1)
    ids = [imagine(client).json()["result"] for _ in range(2)]
    client.advance(60)
    first, second = (client.fetch(i) for i in ids)
    assert first["status"] == "FAILURE" and first["failReason"] == "ruled out"
    assert second["status"] == "SUCCESS"


def test_callback_fault_rule_disturbs_n_tasks(client: Client, receiver: Receiver) -> None:
    add_rule(client, {"operation": "submitImagine"}, {"callbackFault": "duplicate"}, times=1)
    ids = [imagine(client, notifyHook=receiver.url).json()["result"] for _ in range(2)]
    client.advance(60)
    first, second = (receiver.payloads(i) for i in ids)
    assert len(first) == 2 * len(second) and len(second) == 9
    assert first[::2] == first[1::2]


def test_rule_without_times_persists_until_deleted(client: Client) -> None:
    rule = add_rule(client, {}, {"code": 24})
    assert rule["times"] is None and rule["remaining"] is None
    assert [imagine(client).json()["code"] for _ in range(5)] == [24] * 5
    listed = rules(client)[rule["id"]]
    assert listed["fired"] == 5 and listed["remaining"] is None
    client.control("DELETE", f"/rules/{rule['id']}")
    assert imagine(client).json()["code"] == 1
    gone = requests.delete(f"{client.base}/_mockmj/rules/{rule['id']}", timeout=10)
    assert gone.status_code == 404


def test_count_is_exact_under_concurrency(client: Client) -> None:
    add_rule(client, {"operation": "submitImagine"}, {"code": 25}, times=5)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda i: imagine(client, f"owl {i}").json()["code"], range(12)))
    assert codes.count(25) == 5
    assert sorted(set(codes) - {25}) in ([1], [1, 22], [22]), codes
    assert len(client.get("/mj/task/list").json()) == 7


def test_first_matching_rule_wins(client: Client) -> None:
    add_rule(client, {}, {"code": 25}, times=1)
    add_rule(client, {}, {"code": 23}, times=1)
    assert [imagine(client).json()["code"] for _ in range(3)] == [25, 23, 1]


# --------------------------------------------------------------------------- matching
def test_match_operation(client: Client) -> None:
    add_rule(client, {"operation": "submitShorten"}, {"code": 25})
    assert imagine(client).json()["code"] == 1
    assert client.post("/mj/submit/shorten", {"prompt": "a long prompt"}).json()["code"] == 25


def test_match_action_button_kind(client: Client) -> None:
    grid = finished_grid(client)
    rule = add_rule(client, {"operation": "submitAction", "action": "upscale"}, {"code": 25}, times=1)
    assert press(client, grid, button(grid, "V1")).json()["code"] == 1, "a variation is not an upscale"
    assert press(client, grid, button(grid, "U2")).json()["code"] == 25
    assert press(client, grid, button(grid, "U2")).json()["code"] == 1
    assert rule["id"] not in rules(client)


def test_match_key(shared: MockServer, client: Client) -> None:
    other = tenant(shared, "another tenant")
    try:
        add_rule(client, {}, {"code": 25})
        assert imagine(other).json()["code"] == 1
        assert imagine(client).json()["code"] == 25
    finally:
        other.control("POST", "/reset", {"key": other.key})


def test_match_prompt_substring(client: Client) -> None:
    add_rule(client, {"prompt": "DRAGON"}, {"code": 25})
    assert imagine(client, "a small cat").json()["code"] == 1
    assert imagine(client, "a red dragon over hills").json()["code"] == 25


def test_match_account(client: Client) -> None:
    add_rule(client, {"account": ACCOUNT}, {"code": 25})
    assert imagine(client).json()["code"] == 1, "no accountFilter: the rule does not apply"
    assert imagine(client, accountFilter={"instanceId": ACCOUNT}).json()["code"] == 25


def test_all_match_fields_must_agree(client: Client) -> None:
    add_rule(client, {"operation": "submitImagine", "prompt": "moon"}, {"code": 25})
    assert imagine(client, "the sun").json()["code"] == 1
    assert client.post("/mj/submit/shorten", {"prompt": "the moon"}).json()["code"] == 1
    assert imagine(client, "the moon").json()["code"] == 25


# --------------------------------------------------------------------------- the control endpoints
@pytest.mark.parametrize("body", [
    {"respond": {}},
    {"respond": {"outcome": "explode"}},
    {"respond": {"code": 25}, "times": 0},
    {"respond": {"callbackFault": "melt"}},
    {"match": {}},
])
def test_bad_rules_are_refused(client: Client, body: dict[str, Any]) -> None:
    r = requests.post(f"{client.base}/_mockmj/rules", json=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]
    assert rules(client) == {}


def test_delete_all_rules(client: Client) -> None:
    add_rule(client, {}, {"code": 25})
    add_rule(client, {}, {"code": 23}, times=4)
    assert len(rules(client)) == 2
    client.control("DELETE", "/rules")
    assert rules(client) == {}
    assert imagine(client).json()["code"] == 1


def test_rules_do_not_touch_the_control_api(client: Client) -> None:
    client.control("POST", "/rules", {"respond": {"httpStatus": 500}})  # matches every request
    assert imagine(client).status_code == 500
    assert client.control("GET", "/clock")["timing"] == "manual"
    assert len(client.control("GET", "/rules")) == 1

