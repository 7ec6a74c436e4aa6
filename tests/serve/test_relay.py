"""A relay in front of mockmj (new-api style): how it calls the upstream and parses the answers.

Reproduces, in both dialects, the three things such relays rely on: polling list-by-condition with
string ids until "100%" or a failReason, rewriting `"code":21`/`"code":22` as text, and reading the
action and index out of a customId by splitting it on `::`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

RELAY_HEADERS = {"mj-api-secret": "relay-channel-key", "Content-Type": "application/json"}


def upstream_submit_dto(body: bytes) -> dict[str, Any]:
    """Unmarshal as the relay's Go struct would: code int, description string, result string."""
    data = json.loads(body)
    assert isinstance(data["code"], int) and not isinstance(data["code"], bool)
    assert isinstance(data["description"], str)
    assert data["result"] is None or isinstance(data["result"], str), "result must be a JSON string"
    assert isinstance(data["properties"], dict)
    return data


def relay_rewrite(body: bytes) -> bytes:
    """The relay's literal text replacement: only works on compact JSON."""
    return body.replace(b'"code":22', b'"code":1').replace(b'"code":21', b'"code":1')


def relay_action(custom_id: str) -> tuple[str, int | None]:
    """new-api's parsing of a customId into (action, index)."""
    parts = custom_id.split("::")
    name = parts[2] if parts[1] == "JOB" else parts[1]
    if name.startswith("upsample"):
        return "UPSCALE", int(parts[3])
    if name == "variation":
        return "VARIATION", int(parts[3])
    if name in ("low_variation", "high_variation"):
        return name.upper(), None
    if "pan" in name:
        return "PAN", None
    if "reroll" in name:
        return "REROLL", None
    mapping = {"Outpaint": "ZOOM", "CustomZoom": "CUSTOM_ZOOM", "Inpaint": "INPAINT", "BOOKMARK": "BOOKMARK"}
    if name in mapping:
        return mapping[name], None
    raise AssertionError(f"unknown_action:{custom_id}")


@pytest.fixture(params=["88api", "proxy"])
def upstream(request: pytest.FixtureRequest, make_server: Any) -> str:
    return make_server(dialect=request.param, timing="fast", seed=11).base_url


def relay_post(base: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(base + path, data=json.dumps(body), headers=RELAY_HEADERS, timeout=15)


def poll_until_done(base: str, ids: list[str], interval: float = 0.25, limit: float = 15) -> dict[str, dict]:
    """The relay's update loop: POST list-by-condition with string ids until each task is settled."""
    settled: dict[str, dict] = {}
    deadline = time.monotonic() + limit
    while len(settled) < len(ids):
        assert time.monotonic() < deadline, f"tasks never settled: {set(ids) - set(settled)}"
        pending = [i for i in ids if i not in settled]
        r = relay_post(base, "/mj/task/list-by-condition", {"ids": pending})
        assert r.status_code == 200
        items = r.json()
        assert isinstance(items, list), "a bare JSON array"
        for item in items:
            assert isinstance(item["progress"], str | None)
            for field in ("submitTime", "startTime", "finishTime"):
                assert item[field] is None or isinstance(item[field], int)
            failed = (item["progress"] != "100%" and item["failReason"]) or (
                item["progress"] == "100%" and item["status"] == "FAILURE")
            if item["progress"] == "100%" or failed:
                settled[item["id"]] = item
        time.sleep(interval)
    return settled


def test_relay_polls_list_by_condition_until_settled(upstream: str) -> None:
    ok = upstream_submit_dto(relay_post(upstream, "/mj/submit/imagine", {"prompt": "relay cat"}).content)
    bad = upstream_submit_dto(relay_post(upstream, "/mj/submit/imagine",
                                         {"prompt": "relay cat --mockmj fail:[Banned prompt detected] no"}).content)
    settled = poll_until_done(upstream, [ok["result"], bad["result"]])
    assert settled[ok["result"]]["status"] == "SUCCESS"
    assert settled[bad["result"]]["status"] == "FAILURE"
    assert settled[bad["result"]]["failReason"] == "[Banned prompt detected] no"
    assert relay_post(upstream, "/mj/task/list-by-condition", {"ids": ["1717200000000000"]}).json() == []


def test_textual_code_rewrite_works(upstream: str, make_server: Any) -> None:
    # fill the three slots so the next submissions queue (code 22), then ask for a modal (code 21)
    answers = [relay_post(upstream, "/mj/submit/imagine", {"prompt": f"queue {i} --mockmj stuck"}).content
               for i in range(5)]
    queued = [a for a in answers if upstream_submit_dto(a)["code"] == 22]
    assert queued, "some submission must have been queued"
    for raw in queued:
        assert upstream_submit_dto(relay_rewrite(raw))["code"] == 1
    modal = relay_post(upstream, "/mj/submit/imagine", {"prompt": "window --mockmj modal"}).content
    assert upstream_submit_dto(modal)["code"] == 21
    assert upstream_submit_dto(relay_rewrite(modal))["code"] == 1


def test_relay_parses_every_button(upstream: str) -> None:
    # V7: the version whose upscaled image has every kind of button (V8.1 drops Upscale, Zoom and Pan)
    task_id = upstream_submit_dto(relay_post(upstream, "/mj/submit/imagine", {"prompt": "buttons --v 7"}).content)[
        "result"]
    grid = poll_until_done(upstream, [task_id])[task_id]
    parsed = [relay_action(b["customId"]) for b in grid["buttons"]]
    assert parsed[:4] == [("UPSCALE", i) for i in range(1, 5)]
    assert parsed[4] == ("REROLL", None)
    assert parsed[5:] == [("VARIATION", i) for i in range(1, 5)]
    up = upstream_submit_dto(relay_post(upstream, "/mj/submit/action",
                                        {"taskId": task_id, "customId": grid["buttons"][1]["customId"]}).content)
    upscaled = poll_until_done(upstream, [up["result"]])[up["result"]]
    # new-api's parser cannot express Animate: it answers unknown_action, so relays extend and animate only
    # through /mj/submit/video (midjourney-2025 §3); every other button parses.
    animate = [b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::JOB::animate_")]
    assert len(animate) == 2
    for custom_id in animate:
        with pytest.raises(AssertionError, match="unknown_action"):
            relay_action(custom_id)
    kinds = {relay_action(b["customId"])[0] for b in upscaled["buttons"] if b["customId"] not in animate}
    assert kinds == {"UPSCALE", "LOW_VARIATION", "HIGH_VARIATION", "INPAINT", "ZOOM", "CUSTOM_ZOOM", "PAN",
                     "BOOKMARK"}


def test_get_with_null_body_and_seed_as_string(upstream: str) -> None:
    task_id = upstream_submit_dto(relay_post(upstream, "/mj/submit/imagine", {"prompt": "seed"}).content)["result"]
    poll_until_done(upstream, [task_id])
    r = requests.get(f"{upstream}/mj/task/{task_id}/image-seed", data=b"null", headers=RELAY_HEADERS, timeout=15)
    assert r.status_code == 200
    assert upstream_submit_dto(r.content)["result"].isdigit()
