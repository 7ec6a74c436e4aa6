"""Record a "live" deployment (a second mockmj in the proxy dialect, with its own key) through the
recorder, then replay the recording with no target running: the client must see the same thing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.config import load_settings
from mockmj.record.proxy import RecorderServer, start_recorder
from mockmj.record.replay import MEDIA_ROUTE, start_replay
from mockmj.serve.inprocess import MockServer, start_mock

LIVE_KEY = "live-secret-key-4242"  # the target's own key: the client never holds it
DUMMY_KEY = "dummy-client-key-77"
TERMINAL = ("SUCCESS", "FAILURE", "CANCEL")


class Flow:
    """The client of the test: one flow (imagine → polls → U1 → polls → image-seed → failure → code 25),
    and everything it saw, in order."""

    def __init__(self, base: str, key: str | None = DUMMY_KEY) -> None:
        self.base = base
        self.key = key
        self.http = requests.Session()
        self.http.trust_env = False
        self.requests = 0  # exchanges with `base` (image downloads go wherever imageUrl points)
        self.seen: list[Any] = []

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        self.requests += 1
        r = self.http.request(method, self.base + path, json=body, timeout=30,
                              headers={**({"mj-api-secret": self.key} if self.key else {}), **(headers or {})})
        assert r.status_code == 200, r.text
        return r.json()

    def poll(self, task_id: str, pause: float) -> dict[str, Any]:
        views = []
        for _ in range(400):
            task = self.call("GET", f"/mj/task/{task_id}/fetch")
            views.append((task["status"], task["progress"]))
            if task["status"] in TERMINAL:
                self.seen.append(("polls", views))
                return task
            time.sleep(pause)
        raise AssertionError(f"task {task_id} did not finish: {views}")

    def image(self, task: dict[str, Any]) -> bytes:
        r = self.http.get(task["imageUrl"], timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/"), r.text[:200]
        self.seen.append(("image", hashlib.sha256(r.content).hexdigest()))
        return r.content

    def run(self, before_code_25: Callable[[], None] = lambda: None, pause: float = 0.04) -> list[Any]:
        answer = self.call("POST", "/mj/submit/imagine", {"prompt": "a lighthouse at dusk"})
        self.seen.append(("imagine", answer["code"], answer["description"]))
        grid = self.poll(answer["result"], pause)
        self.seen.append(("buttons", [(b["label"], b["customId"]) for b in grid["buttons"]]))
        self.image(grid)
        u1 = next(b["customId"] for b in grid["buttons"] if b["label"] == "U1")
        answer = self.call("POST", "/mj/submit/action", {"taskId": grid["id"], "customId": u1})
        self.seen.append(("U1", answer["code"], answer["description"]))
        upscale = self.poll(answer["result"], pause)
        self.seen.append(("upscale", upscale["action"], [b["label"] for b in upscale["buttons"]]))
        self.image(upscale)
        seed = self.call("GET", f"/mj/task/{grid['id']}/image-seed")
        self.seen.append(("seed", seed["code"], seed["result"]))
        answer = self.call("POST", "/mj/submit/imagine", {"prompt": "a storm"},
                           headers={"X-MockMJ-Outcome": "fail:[Job failed] the GPU is on fire"})
        failed = self.poll(answer["result"], pause)
        self.seen.append(("failure", failed["status"], failed["failReason"]))
        before_code_25()
        answer = self.call("POST", "/mj/submit/imagine", {"prompt": "one too many"})
        self.seen.append(("code", answer["code"], answer["description"], answer["result"]))
        return self.seen


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A recording of the whole flow; the target and the recorder are stopped before any test runs."""
    out = tmp_path_factory.mktemp("recording")
    target = start_mock(dialect="proxy", api_keys=[LIVE_KEY], timing="fast", seed=11, strict=True)
    recorder = start_recorder(target.base_url, out, dialect="proxy", target_key=LIVE_KEY)
    flow = Flow(recorder.base_url)

    def code_25_rule() -> None:
        rule = {"match": {"operation": "submitImagine"}, "respond": {"code": 25}, "times": 1}
        assert requests.post(target.base_url + "/_mockmj/rules", json=rule, timeout=10).status_code == 200

    seen = flow.run(code_25_rule)
    violations = requests.get(recorder.base_url + "/_mockmj/violations", timeout=10).json()
    target_journal = requests.get(target.base_url + "/_mockmj/requests", timeout=10).json()
    target_journal_live_key = requests.get(target.base_url + "/_mockmj/requests", params={"key": LIVE_KEY},
                                           timeout=10).json()
    recorder.stop()
    target.stop()
    yield {"dir": out, "seen": seen, "requests": flow.requests, "violations": violations,
           "target_journal": target_journal, "target_journal_live_key": target_journal_live_key,
           "target_url": target.base_url}


def test_the_flow_reached_every_step_against_the_live_target(recorded: dict[str, Any]) -> None:
    seen = recorded["seen"]
    assert seen[0] == ("imagine", 1, "提交成功")
    assert seen[1][1][-1] == ("SUCCESS", "100%") and len(seen[1][1]) > 2
    assert [label for label, _ in seen[2][1]][:4] == ["U1", "U2", "U3", "U4"]
    assert seen[6][:2] == ("upscale", "UPSCALE")
    assert seen[8][:2] == ("seed", 1) and seen[8][2].isdigit()
    assert seen[10] == ("failure", "FAILURE", "[Job failed] the GPU is on fire")
    assert seen[11][:2] == ("code", 25) and seen[11][3] is None
    # the target only ever saw its own key, never the client's dummy (its journal shows keys masked)
    keys = {e.get("key") for e in recorded["target_journal"]["items"] if e["path"].startswith("/mj/")}
    assert keys == {LIVE_KEY[:4] + "…" + LIVE_KEY[-4:]}, keys
    api_calls = [e for e in recorded["target_journal"]["items"] if e["path"].startswith("/mj/")]
    assert len(recorded["target_journal_live_key"]["items"]) == len(api_calls), "filtered by the full key: all"


def test_a_clean_target_breaks_no_rule(recorded: dict[str, Any]) -> None:
    assert recorded["violations"]["total"] == 0, recorded["violations"]["violations"][:3]


def test_the_har_opens_as_json_with_one_entry_per_exchange(recorded: dict[str, Any]) -> None:
    har = json.loads((recorded["dir"] / "recording.har").read_text(encoding="utf-8"))
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "mockmj"
    assert len(log["entries"]) == recorded["requests"]
    first = log["entries"][0]
    assert first["request"]["method"] == "POST" and first["request"]["url"].endswith("/mj/submit/imagine")
    assert json.loads(first["request"]["postData"]["text"]) == {"prompt": "a lighthouse at dusk"}
    assert first["response"]["status"] == 200 and json.loads(first["response"]["content"]["text"])["code"] == 1
    assert {"send", "wait", "receive"} <= first["timings"].keys()
    media = log["_mockmj"]["media"]
    assert len(media) >= 2  # the grid and the upscale at least (previews too)
    for item in media.values():
        assert (recorded["dir"] / item["file"]).stat().st_size == item["size"] > 0


def test_no_key_appears_anywhere_under_the_recording(recorded: dict[str, Any]) -> None:
    for key in (LIVE_KEY, DUMMY_KEY):
        grep = subprocess.run(["grep", "-r", "-l", "-F", key, str(recorded["dir"])], capture_output=True, text=True)
        assert grep.returncode == 1 and grep.stdout == "", f"{key} found in {grep.stdout}"
    entries = json.loads((recorded["dir"] / "recording.har").read_text(encoding="utf-8"))["log"]["entries"]
    sent = [h["value"] for e in entries for h in e["request"]["headers"] if h["name"].lower() == "mj-api-secret"]
    assert sent == ["REDACTED"] * len(entries)  # the header is kept, its value is not


def replay(recorded: dict[str, Any], **options: Any) -> MockServer:
    settings = load_settings(None, dialect="proxy", timing=options.pop("timing", "fast"), seed=5, strict=True)
    return start_replay(recorded["dir"], settings, **options)


def test_replay_without_the_target_shows_the_same_flow(recorded: dict[str, Any]) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(recorded["target_url"] + "/_mockmj/health", timeout=2)  # the target is gone
    server = replay(recorded, speed=1000)  # each poll takes the next recorded answer
    try:
        flow = Flow(server.base_url, key=None)  # no key needed
        seen = flow.run()
        assert seen == recorded["seen"]  # statuses, progress, codes, buttons, image bytes, failure, code 25
        assert flow.requests == recorded["requests"]
    finally:
        server.stop()


def test_replay_gives_fresh_ids_and_local_media(recorded: dict[str, Any]) -> None:
    server = replay(recorded, speed=1000)
    try:
        flow = Flow(server.base_url)
        first = flow.call("POST", "/mj/submit/imagine", {"prompt": "a lighthouse at dusk"})["result"]
        again = flow.call("POST", "/mj/submit/imagine", {"prompt": "a lighthouse at dusk"})["result"]
        assert first != again and first.isdigit() and len(first) == 16
        task = flow.poll(again, 0)
        assert task["id"] == again and task["status"] == "SUCCESS"
        assert task["imageUrl"].startswith(server.base_url + MEDIA_ROUTE)
        assert flow.call("GET", f"/mj-fast/mj/task/{again}/fetch") == task  # a mode prefix polls the same task
        # the U1 of the fresh id maps back to the recorded task
        u1 = next(b["customId"] for b in task["buttons"] if b["label"] == "U1")
        answer = flow.call("POST", "/mj/submit/action", {"taskId": again, "customId": u1})
        assert answer["code"] == 1 and flow.poll(answer["result"], 0)["action"] == "UPSCALE"
        recorded_ids = replay(recorded, ids="recorded", speed=1000)
        try:
            har = json.loads((recorded["dir"] / "recording.har").read_text(encoding="utf-8"))
            original = json.loads(har["log"]["entries"][0]["response"]["content"]["text"])["result"]
            assert Flow(recorded_ids.base_url).call("POST", "/mj/submit/imagine",
                                                    {"prompt": "a lighthouse at dusk"})["result"] == original
        finally:
            recorded_ids.stop()
    finally:
        server.stop()


def test_replay_follows_the_recorded_pace_on_the_virtual_clock(recorded: dict[str, Any]) -> None:
    server = replay(recorded, timing="manual")
    try:
        flow = Flow(server.base_url)
        task_id = flow.call("POST", "/mj/submit/imagine", {"prompt": "a lighthouse at dusk"})["result"]
        views = [flow.call("GET", f"/mj/task/{task_id}/fetch")["status"] for _ in range(3)]
        recorded_polls = recorded["seen"][1][1]
        assert views == [recorded_polls[0][0]] * 3  # time stands still: the first answer repeats
        requests.post(server.base_url + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=10)
        later = [flow.call("GET", f"/mj/task/{task_id}/fetch")["status"] for _ in range(len(recorded_polls) + 3)]
        # one recorded answer per poll once their time has come, then the last one repeats
        assert later[: len(recorded_polls) - 1] == [s for s, _ in recorded_polls[1:]]
        assert later[-3:] == ["SUCCESS"] * 3
    finally:
        server.stop()


def test_replay_misses_simulate_or_name_what_was_not_recorded(recorded: dict[str, Any]) -> None:
    simulated = replay(recorded, speed=1000)
    strict = replay(recorded, miss="strict", speed=1000)
    try:
        answer = Flow(simulated.base_url).call("POST", "/mj/submit/imagine", {"prompt": "never recorded"})
        assert answer["code"] == 1 and answer["description"] == "提交成功"  # the simulation answered
        r = requests.post(strict.base_url + "/mj/submit/imagine", json={"prompt": "never recorded"}, timeout=10)
        assert r.status_code == 404
        assert "nothing recorded for POST /mj/submit/imagine" in r.json()["description"]
        assert '"prompt":"never recorded"' in r.json()["description"]
        r = requests.get(strict.base_url + "/mj/task/1234567890123456/fetch", timeout=10)
        assert r.status_code == 404 and "GET /mj/task/1234567890123456/fetch" in r.json()["description"]
    finally:
        simulated.stop()
        strict.stop()


def test_budget_refuses_billable_requests_locally(tmp_path: Path) -> None:
    target = start_mock(dialect="proxy", api_keys=[LIVE_KEY], timing="fast", strict=True)
    recorder: RecorderServer = start_recorder(target.base_url, tmp_path, dialect="proxy", target_key=LIVE_KEY,
                                              budget=1)
    try:
        flow = Flow(recorder.base_url)
        assert flow.call("POST", "/mj/submit/imagine", {"prompt": "first"})["code"] == 1
        refused = flow.call("POST", "/mj/submit/imagine", {"prompt": "second"})
        assert refused["code"] == 25 and refused["result"] is None and refused["description"] == "余额不足"
        assert flow.call("GET", "/mj/task/list")  # reads are not billable: still forwarded
        journal = requests.get(target.base_url + "/_mockmj/requests", timeout=10).json()["items"]
        assert [e["path"] for e in journal if e["path"].startswith("/mj/submit/")] == ["/mj/submit/imagine"]
    finally:
        recorder.stop()
        target.stop()
