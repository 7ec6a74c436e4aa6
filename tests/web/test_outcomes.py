"""Every outcome of the grammar, asked for by the X-MockMJ-Outcome header and by the `--mockmj` prompt
directive, observed over HTTP in manual timing (time moves only when the test says)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from mockmj.model.outcomes import DEFAULT_FAIL_REASON
from mockmj.model.timing import PROFILES
from tests.helpers import Client, Mock, Start, running_mock

DAY_S = 86_400
HOW = ("header", "directive")


@pytest.fixture(scope="module")
def shared(starter: Start) -> Iterator[Mock]:
    """One manual-timing mock for the module; each test is its own tenant (key), reset afterwards."""
    yield from running_mock(starter, timing="manual", seed=21)


@pytest.fixture
def client(shared: Mock, request: pytest.FixtureRequest) -> Iterator[Client]:
    c = Client(shared, key="outcomes-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12])
    yield c
    c.control("POST", "/reset", {"key": c.key})
    c.control("DELETE", "/rules")


def ask(client: Client, outcome: str, how: str, prompt: str = "a red fox") -> dict[str, Any]:
    """Submit an imagine asking for `outcome` one way or the other; the envelope."""
    if how == "header":
        r = client.post("/mj/submit/imagine", {"prompt": prompt}, headers={"X-MockMJ-Outcome": outcome})
    else:
        r = client.post("/mj/submit/imagine", {"prompt": f"{prompt} --mockmj {outcome}"})
    assert r.status_code == 200, r.text
    return r.json()


def accepted(client: Client, outcome: str, how: str, prompt: str = "a red fox") -> str:
    envelope = ask(client, outcome, how, prompt)
    assert envelope["code"] == 1, envelope
    return envelope["result"]


def run(client: Client, task_id: str, seconds: float) -> dict[str, Any]:
    client.advance(seconds)
    return client.fetch(task_id)


@pytest.mark.parametrize("how", HOW)
def test_success(client: Client, how: str) -> None:
    task = run(client, accepted(client, "success", how), 60)
    assert task["status"] == "SUCCESS" and task["progress"] == "100%"
    assert task["imageUrl"] and not task["failReason"] and len(task["buttons"]) == 9


@pytest.mark.parametrize("how", HOW)
def test_fail_with_the_default_reason(client: Client, how: str) -> None:
    task = run(client, accepted(client, "fail", how), 60)
    assert task["status"] == "FAILURE"
    assert task["failReason"] == DEFAULT_FAIL_REASON
    assert not task["imageUrl"] and task["buttons"] == []


@pytest.mark.parametrize("how", HOW)
def test_fail_with_a_reason(client: Client, how: str) -> None:
    task = run(client, accepted(client, "fail:Job action restricted", how), 60)
    assert task["status"] == "FAILURE"
    assert task["failReason"] == "Job action restricted"


@pytest.mark.parametrize("how", HOW)
def test_banned(client: Client, how: str) -> None:
    task = run(client, accepted(client, "banned", how), 60)
    assert task["status"] == "FAILURE"
    assert task["failReason"].startswith("[Banned prompt detected]")


def test_banned_names_the_word(client: Client) -> None:
    task = run(client, accepted(client, "banned:gore", "directive"), 60)
    assert task["failReason"].startswith("[Banned prompt detected]") and "gore" in task["failReason"]


@pytest.mark.parametrize("how", HOW)
def test_stuck_never_leaves_submitted(client: Client, how: str) -> None:
    task_id = accepted(client, "stuck", how)
    first = run(client, task_id, 5)
    assert first["status"] == "SUBMITTED"
    for _ in range(3):
        task = run(client, task_id, DAY_S)
        assert task["status"] == "SUBMITTED" and task["progress"] == "0%" and task["finishTime"] is None


@pytest.mark.parametrize("how", HOW)
def test_stall_stops_at_a_percentage(client: Client, how: str) -> None:
    task_id = accepted(client, "stall:62", how)
    task = run(client, task_id, 60)
    assert task["status"] == "IN_PROGRESS" and task["progress"] == "62%"
    task = run(client, task_id, DAY_S)
    assert task["status"] == "IN_PROGRESS" and task["progress"] == "62%"


def test_stall_without_a_percentage_stops_in_the_middle(client: Client) -> None:
    task = run(client, accepted(client, "stall", "header"), DAY_S)
    assert task["status"] == "IN_PROGRESS" and task["progress"] == "46%"


@pytest.mark.parametrize("how", HOW)
def test_timeout_fails_after_the_timeout(client: Client, how: str) -> None:
    timeout_s = PROFILES["manual"].timeout_ms / 1000
    task_id = accepted(client, "timeout", how)
    task = run(client, task_id, timeout_s * 0.8)
    assert task["status"] == "SUBMITTED", "a timeout must not fail early"
    task = run(client, task_id, timeout_s * 0.4)
    assert task["status"] == "FAILURE"
    assert task["failReason"] == "任务超时"
    assert task["finishTime"] - task["startTime"] == PROFILES["manual"].timeout_ms


@pytest.mark.parametrize("how", HOW)
def test_modal_answers_21_and_waits_for_the_window(client: Client, how: str) -> None:
    envelope = ask(client, "modal", how)
    assert envelope["code"] == 21 and envelope["result"]
    task = run(client, envelope["result"], 60)
    assert task["status"] == "MODAL"
    confirmed = client.post("/mj/submit/modal", {"taskId": envelope["result"]}).json()
    assert confirmed["code"] in (1, 22), confirmed
    assert run(client, envelope["result"], 60)["status"] == "SUCCESS"


@pytest.mark.parametrize("how", HOW)
def test_queued_answers_22_and_still_runs(client: Client, how: str) -> None:
    envelope = ask(client, "queued", how)
    assert envelope["code"] == 22 and envelope["result"]
    assert "numberOfQueues" in envelope["properties"]
    assert client.fetch(envelope["result"])["status"] == "NOT_START"
    assert run(client, envelope["result"], 120)["status"] == "SUCCESS"


@pytest.mark.parametrize("how", HOW)
def test_slow_uses_realistic_timing_for_that_task_only(client: Client, how: str) -> None:
    normal = accepted(client, "success", "header", "a plain fox")
    slow = accepted(client, "slow", how)
    assert run(client, normal, 12)["status"] == "SUCCESS"
    assert client.fetch(slow)["status"] in ("SUBMITTED", "IN_PROGRESS"), "the slow task is far from done"
    task = run(client, slow, 120)
    assert task["status"] == "SUCCESS"
    assert task["finishTime"] - task["submitTime"] > 20_000


def test_directive_is_stripped_from_prompt_en_and_final_prompt(client: Client) -> None:
    task_id = accepted(client, "fail:nope", "directive", "a castle --ar 16:9")
    task = run(client, task_id, 1)
    assert task["prompt"] == "a castle --ar 16:9 --mockmj fail:nope"
    assert task["promptEn"] == "a castle --ar 16:9"
    ok = accepted(client, "success", "directive", "a tower --ar 2:3")
    task = run(client, ok, 60)
    assert task["prompt"] == "a tower --ar 2:3 --mockmj success"
    assert task["promptEn"] == "a tower --ar 2:3"
    assert task["properties"]["finalPrompt"] == "a tower --ar 2:3"
    assert "--mockmj" not in task["imageUrl"]


def test_header_wins_over_the_directive(client: Client) -> None:
    r = client.post("/mj/submit/imagine", {"prompt": "x --mockmj success"}, headers={"X-MockMJ-Outcome": "fail:hdr"})
    task = run(client, r.json()["result"], 60)
    assert task["status"] == "FAILURE" and task["failReason"] == "hdr"


def test_header_outcome_applies_to_actions(client: Client) -> None:
    parent = run(client, accepted(client, "success", "header"), 60)
    r = client.post("/mj/submit/action", {"taskId": parent["id"], "customId": parent["buttons"][0]["customId"]},
                    headers={"X-MockMJ-Outcome": "fail:no upscale"})
    assert r.json()["code"] == 1, r.text
    task = run(client, r.json()["result"], 60)
    assert task["action"] == "UPSCALE" and task["status"] == "FAILURE" and task["failReason"] == "no upscale"


@pytest.mark.parametrize("how", HOW)
def test_unknown_outcome_is_a_clear_21_and_creates_nothing(client: Client, how: str) -> None:
    balance = client.control("GET", f"/keys/{client.key}")["balance"]
    envelope = ask(client, "explode", how)
    assert envelope["code"] == 21 and envelope["result"] is None
    assert "explode" in envelope["description"] and "success" in envelope["description"]
    assert client.get("/mj/task/list").json() == []
    assert client.control("GET", f"/keys/{client.key}")["balance"] == balance
