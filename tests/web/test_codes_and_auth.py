"""Every business code and every HTTP refusal, each triggered for real, each checked to create no task
and spend no credit; and the shape of every answer (compact JSON, string result, object properties)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.config import load_settings
from tests.helpers import Client, balance, png_data_url, reset_client
from tests.helpers import Mock as MockServer

MakeServer = Callable[..., MockServer]
IMAGINE_PRICE = 10


def check_compact(r: requests.Response) -> Any:
    """The body is compact JSON (no blank after ':' or ','), exactly as Jackson writes it."""
    body = r.content
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    payload = json.loads(body)
    if isinstance(payload, dict) and payload:
        assert b'":' in body and b'": ' not in body, body[:200]
    assert body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), body[:200]
    return payload


def check_envelope(r: requests.Response, status: int, code: int | None = None, task: bool = True) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = check_compact(r)
    assert set(body) >= {"code", "description", "result", "properties"}, body
    assert isinstance(body["code"], int)
    assert isinstance(body["description"], str) and body["description"]
    assert isinstance(body["properties"], dict)
    if code is not None:
        assert body["code"] == code, body
    if body["code"] in (1, 22) and task:  # a new task's id, as a 16-digit JSON string
        assert isinstance(body["result"], str) and body["result"].isdigit() and len(body["result"]) == 16
    return body


def task_ids(client: Client) -> list[str]:
    r = client.get("/mj/task/list")
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()]


def total_tasks(client: Client) -> int:
    return int(client.control("GET", "/health")["tasks"])


@contextmanager
def nothing_happens(client: Client, key: str | None = None) -> Iterator[None]:
    """The block creates no task (for this key, nor at all) and spends no credit."""
    ids, money, total = task_ids(client), balance(client, key), total_tasks(client)
    yield
    assert task_ids(client) == ids
    assert balance(client, key) == money
    assert total_tasks(client) == total


@pytest.fixture
def manual(shared_manual: MockServer) -> Client:
    """conftest's `manual`, on conftest's module-wide `shared_manual` mock, reset to a clean world."""
    return reset_client(shared_manual)


# ------------------------------------------------------------------------------------ code 21
SCHEMA_VIOLATIONS = [
    pytest.param("/mj/submit/imagine", {"state": "x"}, "prompt", id="missing-prompt"),
    pytest.param("/mj/submit/imagine", {"prompt": 42}, "prompt", id="prompt-number"),
    pytest.param("/mj/submit/blend", {"base64Array": ["A", "B"], "dimensions": "WIDE"}, "dimensions",
                 id="blend-dimensions"),
    pytest.param("/mj/submit/imagine", {"prompt": "Cat", "accountFilter": {"modes": ["SLOW"]}}, "accountFilter.modes",
                 id="modes-slow"),
    pytest.param("/mj/submit/imagine", {"prompt": "Cat", "notifyHook": "not-a-url"}, "notifyHook", id="notify-hook"),
]


@pytest.mark.parametrize(("path", "body", "field"), SCHEMA_VIOLATIONS)
def test_schema_violation_is_400_code_21(manual: Client, path: str, body: dict[str, Any], field: str) -> None:
    if path.endswith("blend"):
        body = {**body, "base64Array": [png_data_url(), png_data_url(colour=(0, 0, 200))]}
    with nothing_happens(manual):
        r = manual.post(path, body)
        answer = check_envelope(r, 400, 21)
    assert answer["result"] is None
    assert field in answer["description"], answer["description"]


@pytest.mark.parametrize("prompt", ["", "   ", "\t\n"])
def test_blank_prompt_is_200_code_21(manual: Client, prompt: str) -> None:
    with nothing_happens(manual):
        answer = check_envelope(manual.imagine(prompt), 200, 21)
    assert answer["result"] is None
    assert "prompt" in answer["description"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"prompt": "Cat"', b"\xff\xfe", b"[1, 2]", b'"Cat"'])
def test_malformed_body_is_400(manual: Client, raw: bytes) -> None:
    with nothing_happens(manual):
        r = manual.http.post(manual.base + "/mj/submit/imagine", data=raw,
                             headers=manual.headers({"Content-Type": "application/json"}), timeout=30)
        answer = check_envelope(r, 400, 21)
    assert answer["result"] is None


# ------------------------------------------------------------------------------------ code 22
def test_fourth_task_is_queued_with_code_22(manual: Client) -> None:
    start = balance(manual)
    running = [check_envelope(manual.imagine(f"Cat {i}"), 200, 1)["result"] for i in range(3)]
    answer = check_envelope(manual.imagine("Dog"), 200, 22)
    queued = answer["result"]
    assert isinstance(answer["properties"]["numberOfQueues"], int)
    assert answer["properties"]["numberOfQueues"] >= 0
    assert queued in task_ids(manual)
    assert balance(manual) == start - 4 * IMAGINE_PRICE  # a queued task is accepted, and paid for

    assert manual.fetch(queued)["status"] == "NOT_START"
    manual.advance(5)  # the three running tasks are rendering; no slot is free yet
    assert {manual.fetch(t)["status"] for t in running} == {"IN_PROGRESS"}
    assert manual.fetch(queued)["status"] == "NOT_START"
    manual.advance(120)
    assert {manual.fetch(t)["status"] for t in running} == {"SUCCESS"}
    done = manual.fetch(queued)
    assert done["status"] == "SUCCESS"
    assert done["startTime"] >= max(manual.fetch(t)["finishTime"] for t in running)  # waited for a slot


def test_full_queue_is_refused_with_code_23(manual: Client) -> None:
    start = balance(manual)
    codes = [check_envelope(manual.imagine(f"Cat {i}"), 200)["code"] for i in range(13)]
    assert codes == [1] * 3 + [22] * 10
    assert len(task_ids(manual)) == 13
    with nothing_happens(manual):
        answer = check_envelope(manual.imagine("one too many"), 200, 23)
    assert answer["result"] is None
    assert "queue" in answer["description"].lower() and "full" in answer["description"].lower()
    assert balance(manual) == start - 13 * IMAGINE_PRICE
    manual.advance(600)  # once the queue drains, submissions are accepted again
    check_envelope(manual.imagine("later"), 200, 1)


# ------------------------------------------------------------------------------------ code 24
def test_unknown_instance_is_refused_with_code_24(manual: Client) -> None:
    with nothing_happens(manual):
        answer = check_envelope(manual.imagine("Cat", accountFilter={"instanceId": "nope"}), 200, 24)
    assert answer["result"] is None
    assert "account" in answer["description"].lower()


def test_disabled_account_is_refused_with_code_24(manual: Client) -> None:
    account = manual.control("GET", "/accounts")[0]["instanceId"]
    manual.control("PATCH", f"/accounts/{account}", {"enabled": False})
    with nothing_happens(manual):
        check_envelope(manual.imagine("Cat"), 200, 24)


def test_a_mode_the_account_has_is_accepted(manual: Client) -> None:
    answer = check_envelope(manual.imagine("Cat", accountFilter={"modes": ["RELAX"]}), 200, 1)
    assert answer["result"] in task_ids(manual)
    check_envelope(manual.imagine("Cat", accountFilter={"instanceId": "", "modes": []}), 200, 1)


# ------------------------------------------------------------------------------------ code 25
def test_configured_key_without_balance_gets_code_25(make_server: MakeServer, tmp_path: Path) -> None:
    config = tmp_path / "mockmj.toml"
    config.write_text('[[keys]]\nkey = "poor"\nbalance = 0\n\n[[keys]]\nkey = "rich"\n', encoding="utf-8")
    server = make_server(settings=load_settings(config, timing="manual", seed=7, strict=True))
    poor, rich = Client(server, "poor"), Client(server, "rich")
    assert balance(poor) == 0
    with nothing_happens(poor):
        answer = check_envelope(poor.imagine("Cat"), 200, 25)
    assert answer["result"] is None
    assert "balance" in answer["description"].lower()
    check_envelope(rich.imagine("Cat"), 200, 1)


def test_balance_set_to_zero_gets_code_25(manual: Client) -> None:
    manual.control("PATCH", f"/keys/{manual.key}", {"balance": IMAGINE_PRICE - 1})
    with nothing_happens(manual):
        check_envelope(manual.imagine("Cat"), 200, 25)
    manual.control("PATCH", f"/keys/{manual.key}", {"balance": 0})
    with nothing_happens(manual):
        check_envelope(manual.imagine("Cat"), 200, 25)
    manual.control("PATCH", f"/keys/{manual.key}", {"balance": IMAGINE_PRICE})
    check_envelope(manual.imagine("Cat"), 200, 1)
    assert balance(manual) == 0


def test_balance_is_spent_on_acceptance_and_refunded_on_failure(manual: Client) -> None:
    start = balance(manual)
    ok = check_envelope(manual.imagine("Cat"), 200, 1)["result"]
    assert balance(manual) == start - IMAGINE_PRICE
    failing = manual.post("/mj/submit/imagine", {"prompt": "Cat"}, headers={"X-MockMJ-Outcome": "fail"})
    bad = check_envelope(failing, 200, 1)["result"]
    assert balance(manual) == start - 2 * IMAGINE_PRICE  # charged when accepted, like any other
    manual.advance(120)
    assert manual.fetch(ok)["status"] == "SUCCESS"
    failed = manual.fetch(bad)
    assert failed["status"] == "FAILURE" and failed["failReason"]
    assert balance(manual) == start - IMAGINE_PRICE  # the failed one is given back, the success is not
    manual.advance(60)
    assert manual.fetch(bad)["status"] == "FAILURE"
    assert balance(manual) == start - IMAGINE_PRICE  # and only once


# ------------------------------------------------------------------------------------ HTTP auth
def test_missing_key_is_401(manual: Client) -> None:
    anonymous = Client(manual.server, key=None)
    with nothing_happens(manual):
        check_envelope(anonymous.imagine("Cat"), 401)
        check_envelope(anonymous.get("/mj/task/list"), 401)
        check_envelope(anonymous.post("/mj/task/list-by-condition", {"ids": []}), 401)


def test_unknown_key_is_401_when_keys_are_configured(make_server: MakeServer) -> None:
    good = Client(make_server(timing="manual", seed=7, api_keys=["good"]), "good")
    stranger = Client(good.server, "stranger")
    with nothing_happens(good):
        check_envelope(stranger.imagine("Cat"), 401)
        check_envelope(Client(good.server, None).imagine("Cat"), 401)
        check_envelope(stranger.get("/mj/task/1234567890123456/fetch"), 401)
    check_envelope(good.imagine("Cat"), 200, 1)


def test_key_without_the_operation_is_403(manual: Client) -> None:
    task_id = check_envelope(manual.imagine("Cat"), 200, 1)["result"]
    ids, money, total = task_ids(manual), balance(manual), total_tasks(manual)
    manual.control("PATCH", f"/keys/{manual.key}", {"allowedOperations": ["fetchTask"]})
    answer = check_envelope(manual.imagine("Dog"), 403)
    assert "submitImagine" in answer["description"]
    assert manual.fetch(task_id)["id"] == task_id  # what is allowed still works
    check_envelope(manual.get("/mj/task/list"), 403)
    assert (balance(manual), total_tasks(manual)) == (money, total)
    manual.control("PATCH", f"/keys/{manual.key}", {"allowedOperations": None})
    assert task_ids(manual) == ids
    check_envelope(manual.imagine("Dog"), 200, 1)


def test_unknown_task_and_unknown_path_are_404(manual: Client) -> None:
    with nothing_happens(manual):
        answer = check_envelope(manual.get("/mj/task/1234567890123456/fetch"), 404)
        assert "1234567890123456" in answer["description"]
        assert answer["result"] is None
        check_envelope(manual.get("/mj/task/1234567890123456/image-seed"), 404)
        check_envelope(manual.post("/mj/submit/nothing", {"prompt": "Cat"}), 404)
        check_envelope(manual.get("/mj/nothing"), 404)


def test_too_many_requests_is_429_with_retry_after(manual: Client) -> None:
    manual.control("PATCH", f"/keys/{manual.key}", {"rateLimit": 1})
    start, before = balance(manual), task_ids(manual)
    answers = [manual.imagine(f"Cat {i}") for i in range(3)]
    limited = [r for r in answers if r.status_code == 429]
    accepted = [r for r in answers if r.status_code == 200]
    assert limited, [r.status_code for r in answers]
    assert len(limited) + len(accepted) == 3
    for r in limited:
        check_envelope(r, 429)
        assert int(r.headers["Retry-After"]) >= 1
    # only the accepted ones created a task and cost credit
    manual.control("PATCH", f"/keys/{manual.key}", {"rateLimit": None})
    assert len(task_ids(manual)) == len(before) + len(accepted)
    assert balance(manual) == start - IMAGINE_PRICE * len(accepted)


def test_mj_api_secret_header_is_a_key_too(manual: Client) -> None:
    r = manual.http.post(manual.base + "/mj/submit/imagine", json={"prompt": "Cat"},
                         headers={"mj-api-secret": manual.key or ""}, timeout=30)
    task_id = check_envelope(r, 200, 1)["result"]
    assert task_id in task_ids(manual)  # the same tenant as Bearer
    fetched = manual.http.get(manual.base + f"/mj/task/{task_id}/fetch", headers={"mj-api-secret": manual.key or ""},
                              timeout=30)
    assert fetched.status_code == 200 and fetched.json()["id"] == task_id


def test_a_key_cannot_see_another_keys_task(manual: Client) -> None:
    task_id = check_envelope(manual.imagine("Cat"), 200, 1)["result"]
    manual.advance(60)
    other = Client(manual.server, "other-key")
    check_envelope(other.get(f"/mj/task/{task_id}/fetch"), 404)
    check_envelope(other.get(f"/mj/task/{task_id}/image-seed"), 404)
    assert other.post("/mj/task/list-by-condition", {"ids": [task_id]}).json() == []
    assert task_id not in task_ids(other)
    u1 = manual.fetch(task_id)["buttons"][0]["customId"]
    refused = other.post("/mj/submit/action", {"taskId": task_id, "customId": u1})
    assert refused.status_code in (200, 404)
    assert refused.json()["code"] != 1
    assert task_ids(other) == []
    assert manual.fetch(task_id)["status"] == "SUCCESS"


def test_no_auth_accepts_requests_without_a_key(make_server: MakeServer) -> None:
    anonymous = Client(make_server(timing="manual", seed=7, no_auth=True), key=None)
    task_id = check_envelope(anonymous.imagine("Cat"), 200, 1)["result"]
    assert anonymous.fetch(task_id)["id"] == task_id
    assert task_id in task_ids(anonymous)


# ------------------------------------------------------------------------------------ shapes
def test_every_answer_is_compact_with_string_result(manual: Client) -> None:
    accepted = check_envelope(manual.imagine("Cat, with a comma: and a colon"), 200, 1)
    assert set(accepted["properties"]) >= {"discordInstanceId"}
    task = check_compact(manual.get(f"/mj/task/{accepted['result']}/fetch"))
    assert isinstance(task["properties"], dict)
    check_compact(manual.get("/mj/task/list"))
    check_compact(manual.post("/mj/task/list-by-condition", {"ids": [accepted["result"]]}))
    manual.advance(60)
    seed = check_envelope(manual.get(f"/mj/task/{accepted['result']}/image-seed"), 200, 1, task=False)
    assert isinstance(seed["result"], str) and seed["result"].isdigit()
    done = check_compact(manual.get(f"/mj/task/{accepted['result']}/fetch"))
    assert done["status"] == "SUCCESS"
