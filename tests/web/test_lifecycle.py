"""The imagine lifecycle over HTTP, in every timing profile, and what a task looks like at each
stage: every key, the ids, the times, the buttons, the properties and the images behind the URLs."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import Client, decode_image, nothing, reset_client
from tests.helpers import Mock as MockServer

TASK_KEYS = {
    "id", "action", "status", "progress", "prompt", "promptEn", "description", "state", "submitTime", "startTime",
    "finishTime", "imageUrl", "failReason", "buttons", "properties",
    "version", "imageUrls", "videoUrl", "videoUrls", "contentType",  # the fields newer proxies add
}
RANK = {"NOT_START": 0, "SUBMITTED": 1, "IN_PROGRESS": 2, "SUCCESS": 3, "FAILURE": 3, "CANCEL": 3}
CANONICAL = [  # as the 88api dialect (these tests' default) shows it: "0%" before the start, as a relay does
    ("NOT_START", "0%"), ("SUBMITTED", "0%"), ("IN_PROGRESS", "0%"), ("IN_PROGRESS", "15%"), ("IN_PROGRESS", "31%"),
    ("IN_PROGRESS", "46%"), ("IN_PROGRESS", "62%"), ("IN_PROGRESS", "78%"), ("IN_PROGRESS", "93%"),
    ("SUCCESS", "100%"),
]
HASH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STATE = json.dumps({"userId": 42, "note": "écho, \"verbatim\""}, ensure_ascii=False)

MakeServer = Callable[..., MockServer]


def check_task(task: dict[str, Any], prompt: str | None = None) -> None:
    """What holds for an imagine task at every stage."""
    assert set(task) == TASK_KEYS, set(task) ^ TASK_KEYS
    assert isinstance(task["id"], str) and re.fullmatch(r"\d{16}", task["id"]), task["id"]
    assert task["action"] == "IMAGINE"
    assert task["status"] in RANK
    assert isinstance(task["properties"], dict)
    assert isinstance(task["buttons"], list)
    if prompt is not None:
        assert task["prompt"] == prompt
        assert task["description"] == f"/imagine {prompt}"
    assert isinstance(task["submitTime"], int)
    if task["startTime"] is not None:
        assert task["submitTime"] <= task["startTime"]
    if task["finishTime"] is not None:
        assert task["startTime"] is not None
        assert task["startTime"] <= task["finishTime"]
    status = task["status"]
    if status == "NOT_START":
        assert task["progress"] in (None, "0%") and task["startTime"] is None  # 88api: "0%"
    if status in ("SUBMITTED", "IN_PROGRESS"):
        assert task["startTime"] is not None and task["finishTime"] is None
    if status != "SUCCESS":
        assert task["buttons"] == []
    if status in ("SUCCESS", "FAILURE"):
        assert task["finishTime"] is not None
    if status != "FAILURE":
        assert not task["failReason"]  # null, or "" where a relay serves a string


def check_success(task: dict[str, Any], bot: str = "MID_JOURNEY") -> None:
    check_task(task)
    assert task["status"] == "SUCCESS" and task["progress"] == "100%"
    props = task["properties"]
    for key in ("nonce", "discordInstanceId", "messageId", "messageHash", "flags", "finalPrompt", "progressMessageId",
                "botType"):
        assert key in props, key
    assert isinstance(props["nonce"], str) and re.fullmatch(r"\d{19}", props["nonce"]), props["nonce"]
    assert props["flags"] == 0
    assert props["botType"] == bot
    assert props["finalPrompt"] == task["promptEn"]
    for key in ("discordInstanceId", "messageId", "progressMessageId"):
        assert isinstance(props[key], str) and props[key].isdigit(), key
    h = props["messageHash"]
    assert re.fullmatch(HASH, h), h
    buttons = task["buttons"]
    expected = [
        *[(f"MJ::JOB::upsample::{i}::{h}", f"U{i}", "") for i in range(1, 5)],
        (f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄"),
        *[(f"MJ::JOB::variation::{i}::{h}", f"V{i}", "") for i in range(1, 5)],
    ]
    assert [(b["customId"], b["label"], b["emoji"]) for b in buttons] == expected
    assert all(b["type"] == 2 for b in buttons)
    assert all(isinstance(b["style"], int) for b in buttons)
    assert task["imageUrl"] and task["imageUrl"].endswith(".png")
    assert h in task["imageUrl"]


def status_key(task: dict[str, Any]) -> tuple[str, str | None]:
    return task["status"], task["progress"]


def never_backwards(seen: list[tuple[str, str | None]]) -> None:
    for (s1, p1), (s2, p2) in itertools.pairwise(seen):
        assert RANK[s2] >= RANK[s1], seen
        if s1 == s2 == "IN_PROGRESS":
            assert int(str(p2).rstrip("%")) >= int(str(p1).rstrip("%")), seen


def dedupe(seen: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [x for i, x in enumerate(seen) if i == 0 or x != seen[i - 1]]


def submit(client: Client, prompt: str = "Cat", **extra: Any) -> str:
    r = client.imagine(prompt, **extra)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 1, body
    assert isinstance(body["result"], str)
    return body["result"]


def listed(client: Client, task_id: str) -> dict[str, Any]:
    """The task as GET /mj/task/list shows it (a read that does not count as a poll)."""
    r = client.get("/mj/task/list")
    assert r.status_code == 200
    return next(t for t in r.json() if t["id"] == task_id)


@pytest.fixture
def manual(shared_manual: MockServer) -> Client:
    """conftest's `manual`, on conftest's module-wide `shared_manual` mock, reset to a clean world."""
    return reset_client(shared_manual)


# ------------------------------------------------------------------------------------ profiles
def test_fast_profile_reaches_success_by_polling(client: Client) -> None:
    prompt = "a red fox in the snow"
    task_id = submit(client, prompt, state=STATE)
    seen = []
    deadline = time.monotonic() + 20
    while True:
        task = client.fetch(task_id)
        check_task(task, prompt)
        assert task["state"] == STATE
        seen.append(status_key(task))
        if task["status"] == "SUCCESS":
            break
        assert time.monotonic() < deadline, f"no SUCCESS within 20 s: {seen[-5:]}"
        time.sleep(0.02)
    never_backwards(seen)
    check_success(task)
    assert task["state"] == STATE


def test_per_poll_each_fetch_moves_one_milestone(make_server: MakeServer) -> None:
    client = Client(make_server(timing="per-poll", seed=7))
    task_id = submit(client, "Cat", state=STATE)
    # Reading the list is not a poll: the task waits in NOT_START.
    for _ in range(2):
        task = listed(client, task_id)
        check_task(task, "Cat")
        assert status_key(task) == ("NOT_START", "0%")
    seen = [status_key(task)]
    for _ in range(len(CANONICAL) - 1):
        task = client.fetch(task_id)
        check_task(task, "Cat")
        assert task["state"] == STATE
        seen.append(status_key(task))
        if task["status"] == "IN_PROGRESS" and task["progress"] != "0%":
            assert task["imageUrl"] and task["imageUrl"].endswith(".webp")
        elif task["status"] != "SUCCESS":
            assert task["imageUrl"] == nothing(client)
    assert seen == CANONICAL
    check_success(task)
    again = client.fetch(task_id)
    assert again == task  # a finished task stays as it is


def test_per_poll_list_by_condition_counts_as_a_poll(make_server: MakeServer) -> None:
    client = Client(make_server(timing="per-poll", seed=7))
    task_id = submit(client)
    first = client.post("/mj/task/list-by-condition", {"ids": [task_id]}).json()
    second = client.post("/mj/task/list-by-condition", {"ids": [task_id]}).json()
    assert [status_key(t) for t in first + second] == CANONICAL[1:3]


def test_manual_profile_moves_only_with_the_clock(manual: Client) -> None:
    clock = manual.control("GET", "/clock")
    assert clock["timing"] == "manual" and clock["virtual"] is True
    task_id = submit(manual, "Cat", state=STATE)
    for _ in range(3):
        task = manual.fetch(task_id)
        check_task(task, "Cat")
        assert status_key(task) == ("NOT_START", "0%")
    assert task["submitTime"] == clock["now"]
    assert manual.control("GET", "/clock")["now"] == clock["now"]  # requests do not move time

    seen = [status_key(task)]
    for _ in range(40):
        after = manual.advance(0.5)
        assert after["now"] > clock["now"]
        task = manual.fetch(task_id)
        check_task(task, "Cat")
        seen.append(status_key(task))
        if task["status"] == "SUCCESS":
            break
    never_backwards(seen)
    assert dedupe(seen) == CANONICAL
    check_success(task)
    assert task["state"] == STATE
    assert task["finishTime"] <= manual.control("GET", "/clock")["now"]


def test_realistic_profile_is_planned_tens_of_seconds_ahead(make_server: MakeServer) -> None:
    client = Client(make_server(timing="realistic", seed=7))
    task_id = submit(client)
    task = client.fetch(task_id)
    check_task(task, "Cat")
    assert task["status"] in ("NOT_START", "SUBMITTED", "IN_PROGRESS")
    assert task["progress"] in (None, "0%")
    assert task["finishTime"] is None

    client.advance(10)
    task = client.fetch(task_id)
    check_task(task, "Cat")
    assert task["status"] in ("SUBMITTED", "IN_PROGRESS"), task["status"]  # started, far from done
    assert task["startTime"] is not None

    client.advance(120)
    task = client.fetch(task_id)
    check_success(task)
    assert task["finishTime"] - task["submitTime"] >= 20_000  # tens of seconds, not one


@pytest.mark.parametrize("timing", ["fast", "realistic", "per-poll", "manual"])
def test_clock_advance_works_in_every_profile(make_server: MakeServer, timing: str) -> None:
    client = Client(make_server(timing=timing, seed=7))
    before = client.control("GET", "/clock")
    assert before["timing"] == timing
    after = client.advance(3600)
    assert after["now"] - before["now"] >= 3_600_000
    assert client.control("GET", "/clock")["now"] >= after["now"]


@pytest.mark.parametrize("timing", ["fast", "realistic"])
def test_advancing_a_real_time_profile_finishes_its_tasks(make_server: MakeServer, timing: str) -> None:
    client = Client(make_server(timing=timing, seed=7))
    task_id = submit(client)
    client.advance(600)
    check_success(client.fetch(task_id))


# ------------------------------------------------------------------------------------ contents
def test_niji_bot_type_is_honoured(manual: Client) -> None:
    niji = submit(manual, "Cat", botType="NIJI_JOURNEY")
    plain = submit(manual, "Dog")
    assert manual.fetch(niji)["properties"]["botType"] == "NIJI_JOURNEY"
    manual.advance(60)
    check_success(manual.fetch(niji), bot="NIJI_JOURNEY")
    check_success(manual.fetch(plain), bot="MID_JOURNEY")


def test_state_and_prompt_are_echoed(manual: Client) -> None:
    prompt = "  a lighthouse at dusk --ar 3:2 --v 6.1  "
    task_id = submit(manual, prompt, state=STATE)
    task = manual.fetch(task_id)
    check_task(task, prompt.strip())
    assert task["state"] == STATE
    assert task["promptEn"] == prompt.strip()
    no_state = manual.fetch(submit(manual, "Cat"))
    assert no_state["state"] == nothing(manual)


@pytest.mark.parametrize(("suffix", "ratio"), [(" --ar 16:9", 16 / 9), (" --ar 2:3", 2 / 3), ("", 1.0)])
def test_image_has_the_aspect_ratio_of_the_prompt(manual: Client, suffix: str, ratio: float) -> None:
    task_id = submit(manual, "Cat" + suffix)
    manual.advance(60)
    task = manual.fetch(task_id)
    check_success(task)
    r = manual.http.get(task["imageUrl"], timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    image = decode_image(r.content)
    assert image.format == "PNG"
    assert image.width / image.height == pytest.approx(ratio, rel=0.03)


def test_preview_image_is_served_while_in_progress(manual: Client) -> None:
    task_id = submit(manual, "Cat --ar 16:9")
    for _ in range(20):
        manual.advance(0.5)
        task = manual.fetch(task_id)
        if task["status"] == "IN_PROGRESS" and task["progress"] != "0%":
            break
    assert task["status"] == "IN_PROGRESS" and task["imageUrl"], task
    assert task["imageUrl"].endswith(".webp")
    assert task["properties"]["messageHash"] in task["imageUrl"]
    r = manual.http.get(task["imageUrl"], timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/webp"
    preview = decode_image(r.content)
    assert preview.format == "WEBP"
    assert preview.width / preview.height == pytest.approx(16 / 9, rel=0.03)


def test_two_tasks_get_different_images(manual: Client) -> None:
    first, second = submit(manual, "Cat"), submit(manual, "Cat")
    manual.advance(60)
    a, b = manual.fetch(first), manual.fetch(second)
    check_success(a)
    check_success(b)
    assert a["properties"]["messageHash"] != b["properties"]["messageHash"]
    assert a["imageUrl"] != b["imageUrl"]
    image_a = manual.http.get(a["imageUrl"], timeout=30).content
    image_b = manual.http.get(b["imageUrl"], timeout=30).content
    assert image_a != image_b
    assert decode_image(image_a).tobytes() != decode_image(image_b).tobytes()


def test_public_url_overrides_the_host(make_server: MakeServer) -> None:
    client = Client(make_server(timing="manual", seed=7, public_url="https://cdn.example.com/mj/"))
    task_id = submit(client)
    client.advance(60)
    task = client.get(f"/mj/task/{task_id}/fetch", headers={"Host": "elsewhere.test"}).json()
    assert task["imageUrl"].startswith("https://cdn.example.com/mj/attachments/"), task["imageUrl"]
    path = task["imageUrl"].removeprefix("https://cdn.example.com/mj")
    r = client.http.get(client.base + path, timeout=30)
    assert r.status_code == 200
    assert decode_image(r.content).format == "PNG"


# ------------------------------------------------------------------------------------ lists
def test_list_by_condition(manual: Client) -> None:
    ids = [submit(manual, f"Cat {i}") for i in range(3)]
    r = manual.post("/mj/task/list-by-condition", {"ids": [ids[0], int(ids[1]), "1111111111111111", 42]})
    assert r.status_code == 200
    tasks = r.json()
    assert isinstance(tasks, list)  # a bare array, not an envelope
    assert sorted(t["id"] for t in tasks) == sorted(ids[:2])
    for task in tasks:
        check_task(task)

    assert manual.post("/mj/task/list-by-condition", {"ids": []}).json() == []
    assert manual.post("/mj/task/list-by-condition", {"ids": ["1111111111111111"]}).json() == []
    assert manual.post("/mj/task/list-by-condition", {}).json() == []
    everything = manual.post("/mj/task/list-by-ids", {"ids": ids}).json()
    assert sorted(t["id"] for t in everything) == sorted(ids)


def test_list_all_is_newest_first(manual: Client) -> None:
    first = submit(manual, "one")
    manual.advance(1)
    second = submit(manual, "two")
    tasks = manual.get("/mj/task/list").json()
    assert [t["id"] for t in tasks] == [second, first]


# ------------------------------------------------------------------------------------ image seed
def test_image_seed(manual: Client) -> None:
    task_id = submit(manual)
    early = manual.get(f"/mj/task/{task_id}/image-seed")
    assert early.status_code < 500
    body = early.json()
    assert body["code"] != 1
    assert body["result"] is None
    assert "seed" in body["description"].lower() or "NOT_START" in body["description"]

    manual.advance(60)
    r = manual.get(f"/mj/task/{task_id}/image-seed")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 1
    assert isinstance(body["result"], str) and body["result"].isdigit()
    assert 0 < int(body["result"]) < 2**32
    assert b'"result":"' in r.content  # a JSON string, never a number
    assert manual.get(f"/mj/task/{task_id}/image-seed").json()["result"] == body["result"]


def test_image_seed_of_unknown_task_is_404(manual: Client) -> None:
    r = manual.get("/mj/task/1234567890123456/image-seed")
    assert r.status_code == 404
    assert r.json()["result"] is None


def test_get_with_a_null_body_works(manual: Client) -> None:
    task_id = submit(manual)
    manual.advance(60)
    headers = {"Authorization": f"Bearer {manual.key}", "Content-Type": "application/json"}
    for path in (f"/mj/task/{task_id}/fetch", f"/mj/task/{task_id}/image-seed", "/mj/task/list", "/mj/task/queue"):
        r = manual.http.get(manual.base + path, data="null", headers=headers, timeout=30)
        assert r.status_code == 200, (path, r.text)
    task = manual.http.get(manual.base + f"/mj/task/{task_id}/fetch", data="null", headers=headers, timeout=30).json()
    check_success(task)


# ------------------------------------------------------------------------------------ determinism
def replay(server: MockServer) -> list[bytes]:
    """One fixed conversation with a mock; every raw body it answered."""
    client = Client(server)
    host = {"Host": "mock.test"}  # the same origin for both mocks, whatever their ports
    bodies = []
    r = client.post("/mj/submit/imagine", {"prompt": "Cat --ar 3:2", "state": "s"}, headers=host)
    bodies.append(r.content)
    task_id = r.json()["result"]
    bodies.append(client.get(f"/mj/task/{task_id}/fetch", headers=host).content)
    client.advance(4)
    preview = client.get(f"/mj/task/{task_id}/fetch", headers=host)
    bodies.append(preview.content)
    bodies.append(client.get(preview.json()["imageUrl"].removeprefix("http://mock.test")).content)
    client.advance(60)
    done = client.get(f"/mj/task/{task_id}/fetch", headers=host)
    bodies.append(done.content)
    bodies.append(client.get(done.json()["imageUrl"].removeprefix("http://mock.test")).content)
    bodies.append(client.get(f"/mj/task/{task_id}/image-seed").content)
    u1 = done.json()["buttons"][0]["customId"]
    r = client.post("/mj/submit/action", {"taskId": task_id, "customId": u1}, headers=host)
    bodies.append(r.content)
    client.advance(60)
    bodies.append(client.get(f"/mj/task/{r.json()['result']}/fetch", headers=host).content)
    return bodies


def test_same_seed_gives_byte_identical_answers(make_server: MakeServer) -> None:
    one = replay(make_server(timing="manual", seed=1234))
    two = replay(make_server(timing="manual", seed=1234))
    assert len(one) == len(two)
    for i, (a, b) in enumerate(zip(one, two, strict=True)):
        assert a == b, f"answer {i} differs"
    other = replay(make_server(timing="manual", seed=4321))
    assert other[0] != one[0]  # the seed matters: another seed gives another task id
    assert other[5] != one[5]  # and another image
