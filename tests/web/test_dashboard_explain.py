"""What the dashboard reads to explain a request: each journal entry keeps the request's headers (keys
masked), the response's status, headers and body start, the rule that matched and the task it touched,
bounded in size; the journal can be emptied alone; health counts the active rules; stalled tasks are named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from mockmj import Settings, create_app
from mockmj.engine.journal import Journal
from mockmj.web.explain import BODY_CHARS, HEADER_CHARS, MAX_HEADERS

KEY = "sk-rich-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}", "User-Agent": "my-app/1.0"}


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    app = create_app(Settings(dialect="proxy", timing="manual", seed=3))
    yield app.test_client()
    app.extensions["mockmj"].callbacks.stop()


def entries(client: FlaskClient, **query: str) -> list[dict[str, Any]]:
    page = client.get("/_mockmj/requests", query_string=query).get_json()
    return [e for e in page["items"] if not e["path"].startswith("/_mockmj")]


def imagine(client: FlaskClient, prompt: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return client.post("/mj/submit/imagine", json={"prompt": prompt}, headers=headers or AUTH).get_json()


def test_an_entry_keeps_request_and_response_with_the_key_masked(client: FlaskClient) -> None:
    task_id = imagine(client, "a red fox")["result"]
    (entry,) = entries(client)
    assert entry["taskId"] == task_id
    assert entry["requestHeaders"]["Authorization"] == "Bearer sk-r…cdef"
    assert entry["requestHeaders"]["User-Agent"] == "my-app/1.0"
    assert entry["requestHeaders"]["Content-Type"] == "application/json"
    assert KEY not in json.dumps(entry)  # nowhere in the entry, in full
    assert json.loads(entry["body"]) == {"prompt": "a red fox"}
    assert entry["responseHeaders"]["Content-Type"].startswith("application/json")
    assert json.loads(entry["responseBody"])["result"] == task_id
    assert entry["rule"] is None


def test_a_fetch_names_its_task_and_a_button_press_the_task_it_pressed_on(client: FlaskClient) -> None:
    task_id = imagine(client, "a harbour")["result"]
    client.get(f"/mj/task/{task_id}/fetch", headers=AUTH)
    client.post("/mj/submit/action", json={"taskId": task_id, "customId": "MJ::JOB::upsample::1::x"}, headers=AUTH)
    submit, fetch, action = entries(client)
    assert fetch["taskId"] == task_id and fetch["responseBody"].startswith(f'{{"id":"{task_id}"')
    assert action["code"] != 1 and action["taskId"] == task_id  # refused (not finished): the task it was about
    assert [e["seq"] for e in entries(client, taskId=task_id)] == [submit["seq"], fetch["seq"], action["seq"]]


def test_an_entry_names_the_rule_that_answered_it(client: FlaskClient) -> None:
    rule = client.post("/_mockmj/rules", json={"match": {"operation": "submitImagine", "key": KEY},
                                               "respond": {"code": 24, "httpStatus": 429}}).get_json()
    assert client.get("/_mockmj/health").get_json()["rules"] == 1
    answer = imagine(client, "queue please")
    assert answer["code"] == 24
    (entry,) = entries(client)
    assert entry["rule"] == {"id": rule["id"], "match": {"operation": "submitImagine", "key": "sk-r…cdef"},
                             "respond": {"code": 24, "httpStatus": 429}}
    assert (entry["status"], entry["code"]) == (429, 24)
    assert entry["responseHeaders"]["Retry-After"] == "1"
    assert entry["taskId"] is None  # refused: no task was made
    client.delete("/_mockmj/rules")
    assert client.get("/_mockmj/health").get_json()["rules"] == 0


def test_an_outcome_rule_that_lets_the_request_through_is_named_too(client: FlaskClient) -> None:
    rule = client.post("/_mockmj/rules", json={"respond": {"outcome": "fail"}, "times": 1}).get_json()
    imagine(client, "fails later")
    imagine(client, "no rule left")
    first, second = entries(client)
    assert first["rule"]["id"] == rule["id"] and first["taskId"]
    assert second["rule"] is None


def test_an_entry_is_bounded(client: FlaskClient) -> None:
    many = {f"X-Extra-{n}": "v" * 1000 for n in range(MAX_HEADERS + 10)}
    imagine(client, "long " * 400, headers={**AUTH, **many})
    (entry,) = entries(client)
    headers = entry["requestHeaders"]
    assert len(headers) == MAX_HEADERS + 1 and headers["(more)"].endswith("more headers not kept")
    assert max(len(v) for v in headers.values()) <= HEADER_CHARS
    assert len(entry["body"]) == BODY_CHARS + 1  # and an ellipsis


def test_an_image_response_is_kept_by_its_size_and_type(client: FlaskClient) -> None:
    task_id = imagine(client, "a picture")["result"]
    client.post("/_mockmj/clock/advance", json={"seconds": 120})
    url = client.get(f"/mj/task/{task_id}/fetch", headers=AUTH).get_json()["imageUrl"]
    assert client.get(url.split("localhost", 1)[1]).status_code == 200
    image = entries(client)[-1]
    assert image["responseBody"].startswith("(") and image["responseBody"].endswith(" bytes of image/png)")


def test_the_journal_is_emptied_alone(client: FlaskClient) -> None:
    task_id = imagine(client, "stays")["result"]
    client.post("/_mockmj/rules", json={"respond": {"latencyMs": 1}})
    assert client.delete("/_mockmj/requests").get_json()["ok"] is True
    assert entries(client) == []
    assert client.get(f"/mj/task/{task_id}/fetch", headers=AUTH).get_json()["id"] == task_id  # the task stays
    assert len(client.get("/_mockmj/rules").get_json()) == 1  # and the rule


def test_the_journal_weighs_headers_and_rules_against_its_byte_cap() -> None:
    journal = Journal(size=1000, max_bytes=20_000)
    for n in range(50):
        journal.record({"path": "/x", "requestHeaders": {"X-Big": "h" * 1000}, "n": n})
    assert len(journal) < 20  # each entry weighs more than its top-level texts
    assert journal.query({})[-1]["n"] == 49


def test_a_task_whose_schedule_stops_is_marked_stalled_after_a_minute(client: FlaskClient) -> None:
    stuck = client.post("/mj/submit/imagine", json={"prompt": "never ends"},
                        headers={**AUTH, "X-MockMJ-Outcome": "stuck"}).get_json()["result"]
    normal = imagine(client, "ends")["result"]

    def rows() -> dict[str, Any]:
        return {r["task"]["id"]: r for r in client.get("/_mockmj/tasks").get_json()["items"]}

    assert rows()[stuck]["stalled"] is None and rows()[normal]["stalled"] is None
    client.post("/_mockmj/clock/advance", json={"seconds": 120})
    after = rows()
    assert after[normal]["task"]["status"] == "SUCCESS" and after[normal]["stalled"] is None
    assert "plans no further step" in after[stuck]["stalled"]
    assert client.get(f"/_mockmj/tasks/{stuck}").get_json()["stalled"] == after[stuck]["stalled"]


def test_a_refused_submission_is_marked_and_an_accepted_one_is_not(client: FlaskClient) -> None:
    imagine(client, "fine")
    client.post("/mj/submit/imagine", json={"prompt": ""}, headers=AUTH)  # no prompt: refused
    client.get("/mj/task/list", headers=AUTH)
    accepted, refused, listing = entries(client)
    assert (accepted["refused"], refused["refused"], listing["refused"]) == (False, True, False)
    assert refused["taskId"] is None
