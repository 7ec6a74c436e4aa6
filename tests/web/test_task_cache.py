"""With a shared store a worker holds the tasks it uses, not the store: a bounded cache of finished tasks, the
rest read from the store's index when asked. Every answer stays what a worker holding everything would give."""

from __future__ import annotations

from typing import Any

from mockmj.config import load_settings
from mockmj.web.app import create_app

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


def test_the_memory_store_packs_finished_tasks_past_its_cache_and_answers_the_same() -> None:
    """Past `task_cache` tasks held as objects, finished ones are packed: every answer is the one a mock that packs
    nothing gives (the same seeded requests on both), and packed tasks are found by id, by owner and by image."""
    def play(cache: int) -> tuple[list[Any], int]:
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
        path = "/" + said[1]["imageUrl"].split("//", 1)[1].split("/", 1)[1]
        picture = c.get(path)
        said.append((picture.status_code, picture.content_type, len(picture.data)))
        return said, app.extensions["mockmj"].engine.world.tasks.held

    packed, held = play(CACHE)
    whole, held_whole = play(1000)
    assert held <= CACHE + 1 and held_whole == 13  # the open child stays an object
    assert packed == whole
    assert packed[-1][0] == 200
