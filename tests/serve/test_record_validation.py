"""Validation as it runs: a target that breaks a promise (a corruption from the contract suite's self-tests
in front of a mockmj) produces the matching violations at GET /_mockmj/violations; a clean one none."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.record.proxy import start_recorder
from mockmj.record.validate import RULES, Validator
from mockmj.serve.inprocess import start_mock
from tests.contract_selftest.corruptions import CORRUPTIONS

KEY = "k-validation-1"

# The corruptions a proxy can see in the answers themselves, and the rule each one breaks. The others
# need to know more than one answer tells: that the request was bad ("code 1 for a bad body"), what
# another key sees ("all keys share one tenant", "no key is let in"), or what list-by-condition should
# have found; the contract suite, which makes those requests on purpose, is the tool for them.
EXPECTED = {
    "drops a task field": "task-keys",
    "renames a status": "spec",
    "progress goes backwards": "progress-forward",
    "finishTime before submitTime": "times-ordered",
    "leaves a terminal state": "terminal-final",
    "serves a broken image": "media-decodes",
    "returns result as a number": "result-string",
    "pretty-prints JSON": "compact-json",
    "error body without result": "spec",
    "5xx for an action on an unknown task": "spec",
    "buttons outside the Discord grammar": "button-grammar",
}
BY_NAME = {c.name: c for c in CORRUPTIONS}


def drive(base: str) -> None:
    """A short flow that touches what the corruptions break: a task to SUCCESS and beyond, an image, errors."""
    http = requests.Session()
    http.trust_env = False
    h = {"Authorization": f"Bearer {KEY}"}
    task_id = http.post(base + "/mj/submit/imagine", json={"prompt": "a red fox"}, headers=h, timeout=10).json()
    task_id = task_id["result"] if isinstance(task_id, dict) else None
    assert task_id is not None
    for _ in range(20):  # per-poll timing: each fetch is one step; two more once finished
        task = http.get(f"{base}/mj/task/{task_id}/fetch", headers=h, timeout=10).json()
        if task.get("status") == "SUCCESS" and _ >= 12:
            break
    http.get(base + "/mj/task/9999999999999999/fetch", headers=h, timeout=10)
    http.post(base + "/mj/submit/action", json={"taskId": "9999999999999999", "customId": "MJ::JOB::upsample::1::x"},
              headers=h, timeout=10)


def violations_of(tmp_path: Path, wrapper: Callable[..., Any] | None) -> dict[str, Any]:
    target = start_mock(timing="per-poll", seed=4, api_keys=[KEY], app_wrapper=wrapper, strict=True)
    recorder = start_recorder(target.base_url, tmp_path, dialect="88api")
    try:
        drive(recorder.base_url)
        return requests.get(recorder.base_url + "/_mockmj/violations", timeout=10).json()
    finally:
        recorder.stop()
        target.stop()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_corrupted_target_produces_violations(tmp_path: Path, name: str) -> None:
    listing = violations_of(tmp_path, BY_NAME[name].make())
    assert EXPECTED[name] in listing["byRule"], (name, listing["byRule"], listing["violations"][:2])
    first = next(v for v in listing["violations"] if v["rule"] == EXPECTED[name])
    assert first["clause"] == RULES[EXPECTED[name]].clause and first["detail"]
    assert first["request"]["method"] in ("GET", "POST") and first["request"]["url"].startswith("http://127.0.0.1")
    assert isinstance(first["response"]["status"], int)
    # the violation is in the HAR too, on the exchange that broke the rule (media ones on the poll that pointed)
    har = json.loads((tmp_path / "recording.har").read_text(encoding="utf-8"))["log"]
    flagged = [v["rule"] for e in har["entries"] for v in e.get("_violations", [])]
    assert EXPECTED[name] in flagged and len(flagged) == listing["total"]


def test_the_same_flow_on_a_clean_target_breaks_nothing(tmp_path: Path) -> None:
    listing = violations_of(tmp_path, None)
    assert listing["total"] == 0, listing["violations"][:3]
    assert {r["name"] for r in listing["rules"]} == set(RULES)


def test_dialect_rules_judge_by_the_chosen_dialect() -> None:
    proxy, eighty_eight = Validator("proxy"), Validator("88api")
    fetch = ("GET", "/mj/task/1234567890123456/fetch")
    assert proxy.check(*fetch, 200, "", b"") == []  # the proxy answers an unknown task with an empty 200
    assert [r for r, _ in eighty_eight.check(*fetch, 200, "", b"")] == ["dialect-unknown-task"]
    ok = json.dumps({"code": 1, "description": "Submitted successfully", "result": "1", "properties": {}},
                    separators=(",", ":")).encode()
    assert eighty_eight.check("POST", "/mj/submit/imagine", 200, "application/json", ok) == []
    assert [r for r, _ in proxy.check("POST", "/mj/submit/imagine", 200, "application/json", ok)] == [
        "dialect-ok-description"]
    unknown_code = ok.replace(b'"code":1', b'"code":25').replace(b"Submitted successfully", b"x")
    assert "dialect-code" not in [r for r, _ in proxy.check("POST", "/mj/submit/imagine", 200, "", unknown_code)]
    assert [r for r, _ in proxy.check("POST", "/mj/submit/imagine", 200, "", ok.replace(b'"code":1', b'"code":77'))
            if r == "dialect-code"] == ["dialect-code"]
    assert [r for r, _ in proxy.check("GET", "/mj/task/list", 401, "application/json", b'{"a":1}')
            if r.startswith("dialect")] == ["dialect-unauthorized"]


def task_answer(**fields: Any) -> bytes:
    task = {"id": "1796000000000001", "action": "IMAGINE", "status": "IN_PROGRESS", "progress": "15%",
            "failReason": None, "buttons": [], **fields}
    return json.dumps(task, separators=(",", ":")).encode()


@pytest.mark.parametrize(("fields", "rule"), [
    ({"status": "SUCCESS", "progress": "93%"}, "progress-format"),
    ({"status": "IN_PROGRESS", "progress": "fast"}, "progress-format"),
    ({"status": "FAILURE", "progress": "", "failReason": ""}, "failure-reason"),
    ({"status": "SUCCESS", "progress": "100%", "buttons": [{"customId": "U1", "label": "U1"}]}, "button-grammar"),
])
def test_task_rules_on_single_answers(fields: dict[str, Any], rule: str) -> None:
    found = [r for r, _ in Validator("88api").check("GET", "/mj/task/1796000000000001/fetch", 200,
                                                     "application/json", task_answer(**fields))]
    assert rule in found, found
    fine = {"status": "SUCCESS", "progress": "100%",
            "buttons": [{"customId": "MJ::JOB::upsample::1::82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"},
                        {"customId": "MJ::CustomZoom::82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"}]}
    assert rule not in [r for r, _ in Validator("88api").check("GET", "/mj/task/1/fetch", 200, "application/json",
                                                               task_answer(**fine))]
