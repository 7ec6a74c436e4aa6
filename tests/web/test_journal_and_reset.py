"""The request journal and the callback outbox (what they record, filters, caps), resets (one tenant or
everything), and the simulated keys and accounts changed through the control API."""

from __future__ import annotations

from typing import Any

import pytest

from mockmj.model.clock import VIRTUAL_EPOCH_MS
from tests.helpers import Client, Servers, button, pressed, submit_imagine

ACCOUNT = "1118138338562560102"
DEFAULT_BALANCE = 1_000_000
IMAGINE_PRICE = 10


def journal(client: Client, query: str = "") -> dict[str, Any]:
    return client.control("GET", f"/requests{query}")


def as_key(client: Client, key: str) -> Client:
    return Client(client.server, key=key)


# --------------------------------------------------------------------------- the journal
def test_journal_records_each_request(manual: Client) -> None:
    long_prompt = "a very long prompt " * 30
    task_id = submit_imagine(manual, long_prompt)
    manual.fetch(task_id)
    manual.get("/mj/task/9999999999999999/fetch")
    page = journal(manual)
    assert page["total"] == 3 and page["capacity"] == 1000
    first, second, third = page["items"]
    assert [e["seq"] for e in page["items"]] == [1, 2, 3]
    assert first["method"] == "POST" and first["path"] == "/mj/submit/imagine"
    assert first["operationId"] == "submitImagine" and first["key"] == "te…ey", "keys are masked"
    assert first["status"] == 200 and first["code"] == 1 and first["billable"] is True
    assert first["body"].startswith('{"prompt"') and first["body"].endswith("…") and len(first["body"]) <= 301
    assert first["time"] == VIRTUAL_EPOCH_MS and first["latencyMs"] >= 0
    assert second["operationId"] == "fetchTask" and second["billable"] is False and second["code"] is None
    assert third["status"] == 404 and third["code"] == 21


def test_journal_filters(manual: Client) -> None:
    other = as_key(manual, "someone-else")
    ids = [submit_imagine(manual, f"cat {i}") for i in range(3)]
    submit_imagine(other, codes=(1, 22))
    for task_id in ids:
        manual.fetch(task_id)
    manual.post("/mj/submit/imagine", {"prompt": ""})

    def count(query: str) -> int:
        return len(journal(manual, query)["items"])

    assert count("?operationId=submitImagine") == 5
    assert count("?key=someone-else") == 1
    assert count("?key=test-key&method=GET") == 3
    assert count(f"?path=/mj/task/{ids[0]}/fetch") == 1
    assert count("?billable=true") == 5 and count("?billable=false") == 3
    assert count("?status=200&operationId=submitImagine") == 5
    assert count("?limit=2") == 2 and journal(manual, "?limit=2")["items"][-1]["seq"] == 8
    assert [e["seq"] for e in journal(manual, "?since=6")["items"]] == [7, 8]
    assert count("?limit=0") == 0


@pytest.mark.parametrize("query", [
    "/requests?limit=lots",
    "/callbacks?limit=-1",
    "/requests?since=abc",
])
def test_bad_journal_queries_are_400(manual: Client, query: str) -> None:
    manual.fetch(submit_imagine(manual))
    r = manual.http.get(f"{manual.base}/_mockmj{query}", timeout=10)
    assert r.status_code == 400 and r.json()["error"]




# --------------------------------------------------------------------------- resets




def test_full_reset_restarts_the_journal_count(manual: Client) -> None:
    submit_imagine(manual)
    manual.fetch(submit_imagine(manual, "another"))
    manual.control("POST", "/reset")
    assert journal(manual)["total"] == 0
    submit_imagine(manual)
    assert [e["seq"] for e in journal(manual)["items"]] == [1]


@pytest.mark.parametrize("body", [{"key": 5}, {"key": ["a"]}])
def test_bad_reset_is_refused(manual: Client, body: dict[str, Any]) -> None:
    task_id = submit_imagine(manual)
    r = manual.http.post(f"{manual.base}/_mockmj/reset", json=body, timeout=10)
    assert r.status_code == 400
    assert manual.fetch(task_id)["id"] == task_id


# --------------------------------------------------------------------------- keys
def test_balance_patch_is_effective(manual: Client) -> None:
    key = manual.control("GET", "/keys/test-key")
    assert key == {"key": "te…ey", "balance": DEFAULT_BALANCE, "rateLimit": None, "allowedOperations": None}
    manual.control("PATCH", "/keys/test-key", {"balance": IMAGINE_PRICE + 5})
    assert manual.post("/mj/submit/imagine", {"prompt": "one"}).json()["code"] == 1
    assert manual.control("GET", "/keys/test-key")["balance"] == 5
    refused = manual.post("/mj/submit/imagine", {"prompt": "two"}).json()
    assert refused["code"] == 25 and refused["result"] is None
    manual.control("PATCH", "/keys/test-key", {"balance": 100})
    assert manual.post("/mj/submit/imagine", {"prompt": "three"}).json()["code"] == 1


def test_rate_limit_patch_is_effective(manual: Client) -> None:
    manual.control("PATCH", "/keys/test-key", {"rateLimit": 0.5})
    first, second = manual.get("/mj/task/list"), manual.get("/mj/task/list")
    assert first.status_code == 200
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert as_key(manual, "another").get("/mj/task/list").status_code == 200, "a limit is per key"
    manual.control("PATCH", "/keys/test-key", {"rateLimit": None})
    assert all(manual.get("/mj/task/list").status_code == 200 for _ in range(5))


def test_allowed_operations_patch_is_effective(manual: Client) -> None:
    task_id = submit_imagine(manual)
    key = manual.control("PATCH", "/keys/test-key", {"allowedOperations": ["fetchTask"]})
    assert key["allowedOperations"] == ["fetchTask"]
    assert manual.post("/mj/submit/imagine", {"prompt": "no"}).status_code == 403
    assert manual.fetch(task_id)["id"] == task_id
    manual.control("PATCH", "/keys/test-key", {"allowedOperations": None})
    assert manual.post("/mj/submit/imagine", {"prompt": "yes"}).json()["code"] == 1


def test_key_control_errors(mocks: Servers) -> None:
    client = mocks(timing="manual", api_keys=["only-this"])
    base = f"{client.base}/_mockmj/keys"
    assert client.http.get(f"{base}/stranger", timeout=10).status_code == 404
    assert client.http.patch(f"{base}/stranger", json={"balance": 1}, timeout=10).status_code == 404
    assert client.http.patch(f"{base}/only-this", json={"rateLimit": 0}, timeout=10).status_code == 400
    assert client.http.patch(f"{base}/only-this", json={"balance": "lots"}, timeout=10).status_code == 400
    assert [k["key"] for k in client.control("GET", "/keys")] == ["on…is"]


# --------------------------------------------------------------------------- accounts
def finished_grid(client: Client) -> dict[str, Any]:
    task_id = submit_imagine(client)
    client.advance(60)
    task = client.fetch(task_id)
    assert task["status"] == "SUCCESS"
    return task


def test_disabled_account_answers_24(manual: Client) -> None:
    accounts = manual.control("GET", "/accounts")
    assert [a["instanceId"] for a in accounts] == [ACCOUNT] and accounts[0]["enabled"] is True
    changed = manual.control("PATCH", f"/accounts/{ACCOUNT}", {"enabled": False})
    assert changed["enabled"] is False
    refused = manual.post("/mj/submit/imagine", {"prompt": "cat"}).json()
    assert refused["code"] == 24 and refused["result"] is None
    manual.control("PATCH", f"/accounts/{ACCOUNT}", {"enabled": True})
    assert manual.post("/mj/submit/imagine", {"prompt": "cat"}).json()["code"] == 1


def test_remix_toggle_makes_variation_open_the_window(manual: Client) -> None:
    grid = finished_grid(manual)
    manual.control("PATCH", f"/accounts/{ACCOUNT}", {"remix": True})
    modal = pressed(manual, grid, button(grid, "V1"))
    assert modal["code"] == 21 and modal["result"]
    assert manual.fetch(modal["result"])["status"] == "MODAL"
    assert pressed(manual, grid, button(grid, "U1"))["code"] == 1, "an upscale never opens the remix window"
    manual.control("PATCH", f"/accounts/{ACCOUNT}", {"remix": False})
    assert pressed(manual, grid, button(grid, "V1"))["code"] == 1


def test_capacity_changes_are_effective(manual: Client) -> None:
    manual.control("PATCH", f"/accounts/{ACCOUNT}", {"coreSize": 1, "queueSize": 1})
    assert manual.post("/mj/submit/imagine", {"prompt": "first"}).json()["code"] == 1
    assert manual.post("/mj/submit/imagine", {"prompt": "second"}).json()["code"] == 22
    full = manual.post("/mj/submit/imagine", {"prompt": "third"}).json()
    assert full["code"] == 23 and full["result"] is None
    load = manual.control("GET", "/accounts")[0]
    assert (load["coreSize"], load["queueSize"], load["running"], load["waiting"]) == (1, 1, 1, 1)


def test_account_control_errors(manual: Client) -> None:
    base = f"{manual.base}/_mockmj/accounts"
    assert manual.http.patch(f"{base}/404404", json={"enabled": False}, timeout=10).status_code == 404
    assert manual.http.patch(f"{base}/{ACCOUNT}", json={"coreSize": 0}, timeout=10).status_code == 400
    assert manual.http.patch(f"{base}/{ACCOUNT}", json={"modes": ["WARP"]}, timeout=10).status_code == 400
    assert manual.control("GET", "/accounts")[0]["coreSize"] == 3
