"""With a shared store a worker holds the tasks it uses, not the store: a bounded cache of finished tasks, the
rest read from the store's index when asked. Every answer stays what a worker holding everything would give."""

from __future__ import annotations

from typing import Any

import pytest

from mockmj.config import load_settings
from mockmj.engine.task_index import Packer
from mockmj.web.app import create_app
from tests.helpers import png_data_url

KEY = {"Authorization": "Bearer tenant-a"}
CACHE = 3


def worker(store: str, **overrides: Any) -> Any:
    app = create_app(load_settings(store=store, timing="manual", seed=9, task_cache=CACHE, **overrides))
    app.extensions["mockmj"].callbacks.stop()
    return app


def held(app: Any) -> int:
    return app.extensions["mockmj"].engine.world.tasks.held


def test_a_worker_holds_at_most_its_cache_of_finished_tasks_and_answers_for_every_task(shared_store: str) -> None:
    first = worker(shared_store)
    a = first.test_client()
    ids = [a.post("/mj/submit/imagine", json={"prompt": f"a lighthouse {i}"}, headers=KEY).get_json()["result"]
           for i in range(12)]
    a.post("/_mockmj/clock/advance", json={"seconds": 3600})
    seen = {i: a.get(f"/mj/task/{i}/fetch", headers=KEY).get_json() for i in ids}
    assert {t["status"] for t in seen.values()} == {"SUCCESS"}
    assert held(first) <= CACHE  # twelve finished tasks met, three kept

    # another worker that never met them answers the same, image files included (found by their hash)
    second = worker(shared_store)
    b = second.test_client()
    assert all(b.get(f"/mj/task/{i}/fetch", headers=KEY).get_json() == seen[i] for i in ids)
    oldest_image = seen[ids[0]]["imageUrl"].split("//", 1)[1].split("/", 1)[1]
    picture = b.get("/" + oldest_image)
    assert picture.status_code == 200 and picture.content_type == "image/png"
    assert b.get("/" + oldest_image.replace(".png", "x.png")).status_code == 404  # the hash alone is not enough
    listed = b.get("/mj/task/list", headers=KEY).get_json()
    assert [t["id"] for t in listed] == ids[::-1]  # newest first, from the index
    assert held(second) <= CACHE

    # open tasks are found through the index too, by a worker that did not submit them
    waiting = [a.post("/mj/submit/imagine", json={"prompt": f"queued {i}"}, headers=KEY).get_json()["result"]
               for i in range(5)]
    queue = b.get("/mj/task/queue", headers=KEY).get_json()
    assert sorted(t["id"] for t in queue) == sorted(waiting)
    assert queue == a.get("/mj/task/queue", headers=KEY).get_json()
    assert held(first) >= len(waiting)  # unfinished tasks in use stay held beyond the cache


def test_eviction_at_max_tasks_goes_through_the_index(shared_store: str) -> None:
    first = worker(shared_store, max_tasks=10)
    a = first.test_client()
    ids = []
    for i in range(25):
        ids.append(a.post("/mj/submit/imagine", json={"prompt": f"p {i}"}, headers=KEY).get_json()["result"])
        a.post("/_mockmj/clock/advance", json={"seconds": 600})  # each finishes before the next
    other = worker(shared_store, max_tasks=10).test_client()
    count = other.get("/_mockmj/health").get_json()["tasks"]
    assert count <= 10
    kept = [i for i in ids if other.get(f"/mj/task/{i}/fetch", headers=KEY).status_code == 200]
    assert kept == ids[-len(kept):] and len(kept) == count  # the oldest finished went first


def test_a_finished_task_read_past_a_full_cache_and_changed_is_kept(shared_store: str) -> None:
    """More open tasks than the cache holds (they are all held): a finished task read from the store and changed in
    the same transaction (a button pressed on it: its record gains the child) must be written, not let go by the
    cache before it is written, which the store then took for its deletion."""
    a = worker(shared_store).test_client()
    grid = a.post("/mj/submit/imagine", json={"prompt": "a lighthouse"}, headers=KEY).get_json()["result"]
    a.post("/_mockmj/clock/advance", json={"seconds": 3600})
    view = a.get(f"/mj/task/{grid}/fetch", headers=KEY).get_json()
    waiting = [a.post("/mj/submit/imagine", json={"prompt": f"queued {i}"}, headers=KEY).get_json()["result"]
               for i in range(CACHE + 1)]
    child = a.post("/mj/submit/action", headers=KEY, json={
        "taskId": grid, "customId": view["buttons"][0]["customId"]}).get_json()
    assert child["code"] in (1, 22), child  # accepted (queued behind the others)
    for reader in (a, worker(shared_store).test_client()):  # this worker, and one that reads the store afresh
        fetched = reader.get(f"/mj/task/{grid}/fetch", headers=KEY).get_json()
        assert fetched.get("id") == grid, fetched  # not deleted from the store
        listed = [t["id"] for t in reader.get("/mj/task/list", headers=KEY).get_json()]
        assert sorted(listed) == sorted([grid, *waiting, child["result"]])


def test_the_memory_store_packs_finished_tasks_past_its_cache_and_answers_the_same() -> None:
    """Past `task_cache` tasks held as objects, finished ones are packed: every answer is the one a mock that packs
    nothing gives (the same seeded requests on both), and packed tasks are found by id, by owner and by image."""
    def play(cache: int) -> tuple[list[Any], int, bool]:
        app = create_app(load_settings(timing="manual", seed=9, task_cache=cache))
        app.extensions["mockmj"].callbacks.stop()
        c = app.test_client()
        ids = [c.post("/mj/submit/imagine", json={"prompt": f"a lighthouse {i}"}, headers=KEY).get_json()["result"]
               for i in range(12)]
        c.post("/_mockmj/clock/advance", json={"seconds": 3600})
        said = [c.get(f"/mj/task/{i}/fetch", headers=KEY).get_json() for i in ids]
        said.append(c.get("/mj/task/list", headers=KEY).get_json())
        child = c.post("/mj/submit/action", headers=KEY,
                       json={"taskId": ids[0], "customId": said[0]["buttons"][0]["customId"]}).get_json()
        said.append(child)
        said.append(c.get("/mj/task/queue", headers=KEY).get_json())
        said.append(c.get("/_mockmj/tasks?limit=5").get_json())
        # a task with uploads (a blend's images), packed as the others are
        blend = c.post("/mj/submit/blend", headers=KEY, json={"base64Array": [
            png_data_url(colour=(250, 0, 0)), png_data_url(colour=(0, 0, 250))]}).get_json()["result"]
        c.post("/_mockmj/clock/advance", json={"seconds": 3600})
        for i in ids[:CACHE + 1]:
            c.get(f"/mj/task/{i}/fetch", headers=KEY)
        tasks = app.extensions["mockmj"].engine.world.tasks
        blend_packed = isinstance(tasks._by_id[blend], bytes)
        said.append(c.get(f"/mj/task/{blend}/fetch", headers=KEY).get_json())
        path = "/" + said[1]["imageUrl"].split("//", 1)[1].split("/", 1)[1]
        picture = c.get(path)
        said.append((picture.status_code, picture.content_type, len(picture.data)))
        return said, tasks.held, blend_packed

    packed, held, blend_packed = play(CACHE)
    whole, held_whole, _ = play(1000)
    assert held <= CACHE + 1 and held_whole == 14
    assert blend_packed  # a task with uploads was unpacked to be answered
    assert packed == whole
    assert packed[-1][0] == 200


def test_forgetting_packed_tasks_unpacks_only_those_with_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key's reset and eviction past `max_tasks` read where a packed task is filed from the head of its bytes: the
    task, its image file and its uploads go, another key's tasks stay, and only a task with uploads is unpacked."""
    unpacked: list[str] = []
    unpack = Packer.unpack

    def counted(self: Packer, data: bytes) -> Any:
        task = unpack(self, data)
        unpacked.append(task.id)
        return task

    app = create_app(load_settings(timing="manual", seed=9, task_cache=CACHE, max_tasks=40))
    app.extensions["mockmj"].callbacks.stop()
    world = app.extensions["mockmj"].engine.world
    c = app.test_client()
    other = {"Authorization": "Bearer tenant-b"}

    def finished(path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
        task_id = c.post(path, json=body, headers=headers).get_json()["result"]
        c.post("/_mockmj/clock/advance", json={"seconds": 600})  # each ends before the next: the queue stays short
        return str(task_id)

    blend = finished("/mj/submit/blend", {"base64Array": [png_data_url(colour=(250, 0, 0)),
                                                          png_data_url(colour=(0, 0, 250))]}, KEY)
    uploads = list(world.tasks.get(blend).uploads)
    mine = [finished("/mj/submit/imagine", {"prompt": f"mine {i}"}, KEY) for i in range(8)]
    theirs = [finished("/mj/submit/imagine", {"prompt": f"theirs {i}"}, other) for i in range(20)]
    files = {i: c.get(f"/mj/task/{i}/fetch", headers=KEY if i in mine else other).get_json()["imageUrl"]
             .split("//", 1)[1].split("/", 1)[1] for i in mine + theirs}
    for i in theirs[-CACHE:]:  # held last: every task of tenant-a is packed again, as are the oldest of tenant-b
        c.get(f"/mj/task/{i}/fetch", headers=other)
    assert len(uploads) == 2 and all(c.get(path).status_code == 200 for path in uploads)
    assert all(isinstance(world.tasks._by_id[i], bytes) for i in [blend, *mine, *theirs[:10]])

    monkeypatch.setattr(Packer, "unpack", counted)
    assert c.post("/_mockmj/reset", json={"key": "tenant-a"}).status_code == 200
    assert unpacked == [blend]  # the one with uploads, to name them
    assert all(world.tasks.get(i) is None for i in [blend, *mine])
    assert all(c.get("/" + files[i]).status_code == 404 for i in mine)  # found by the image hash no more
    assert all(c.get(path).status_code == 404 for path in uploads)
    assert unpacked == [blend]

    # past max_tasks (40) the oldest finished tasks go, a hundredth of the cap at a time: tenant-b's first ones
    for i in range(21):
        finished("/mj/submit/imagine", {"prompt": f"more {i}"}, other)
    gone = [i for i in theirs if world.tasks.get(i) is None]
    assert gone and gone == theirs[:len(gone)]
    assert all(c.get("/" + files[i]).status_code == 404 for i in gone)
    assert all(c.get("/" + files[i]).status_code == 200 for i in theirs[len(gone):])
    assert unpacked[0] == blend and not set(unpacked[1:]) & set(gone)  # none forgotten was unpacked to be
