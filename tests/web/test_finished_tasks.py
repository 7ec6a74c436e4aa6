"""A finished task's JSON is rendered once per base URL (web/finished.py) and forgotten when its task goes:
a reset of everything or of its key, an eviction beyond max_tasks. Strict mode compares what is remembered
with a fresh rendering at every fetch, so these tests would fail on a stale answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from mockmj.config import Settings
from mockmj.model.jsonio import compact
from mockmj.web.app import create_app
from mockmj.web.finished import FinishedTasks

BUILT: list[Flask] = []


@pytest.fixture(autouse=True)
def _stop_apps() -> Iterator[None]:
    yield
    while BUILT:
        BUILT.pop().extensions["mockmj"].callbacks.stop()


def app_of(**options: Any) -> Flask:
    app = create_app(Settings(timing="manual", seed=5, strict=True, **options))
    BUILT.append(app)
    return app


def view(task_id: str, status: str = "SUCCESS", **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "status": status, "imageUrl": None, **extra}


def test_only_finished_tasks_are_remembered() -> None:
    finished = FinishedTasks()
    assert finished.rendered(view("1", "IN_PROGRESS"), "http://a", 0) is None
    assert len(finished) == 0
    for status in ("SUCCESS", "FAILURE", "CANCEL"):
        first = finished.rendered(view(status, status), "http://a", 0)
        assert first == compact(view(status, status))
        assert finished.rendered(view(status, status), "http://a", 0) is first  # not rendered again
    assert len(finished) == 3


def test_each_base_url_has_its_own_bytes() -> None:
    finished = FinishedTasks()
    a = finished.rendered(view("1", imageUrl="http://a/x.png"), "http://a", 0)
    b = finished.rendered(view("1", imageUrl="http://b/x.png"), "http://b", 0)
    assert a != b and finished.rendered(view("1"), "http://a", 0) is a


def test_forgotten_on_reset_and_eviction_and_bounded() -> None:
    finished = FinishedTasks(capacity=3)
    for task_id in "12345":
        finished.rendered(view(task_id), "http://a", 0)
    assert len(finished) == 3  # the oldest went first
    finished.forget(["4"], 100)  # the engine's on_evict hook
    finished.reset({"5"})
    assert len(finished) == 1
    finished.reset(None)
    assert len(finished) == 0


def test_a_view_read_before_a_reset_is_not_kept_after_it() -> None:
    """A fetch racing a reset: its view may be of a task the reset took away (and whose id a seeded
    reset gives to the next task), so it is answered but not remembered."""
    finished = FinishedTasks()
    read_at = finished.generation
    finished.reset(None)  # between the fetch's read and its rendering
    assert finished.rendered(view("1"), "http://a", read_at) == compact(view("1"))
    assert len(finished) == 0
    assert finished.rendered(view("1"), "http://a", finished.generation) is not None and len(finished) == 1


def fetch(app: Flask, task_id: str, key: str = "k1") -> dict[str, Any]:
    answer = app.test_client().get(f"/mj/task/{task_id}/fetch", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.data
    return json.loads(answer.data)


def imagine(app: Flask, prompt: str, key: str = "k1") -> str:
    answer = app.test_client().post("/mj/submit/imagine", json={"prompt": prompt},
                                    headers={"Authorization": f"Bearer {key}"})
    return str(answer.get_json()["result"])


def finish(app: Flask) -> None:
    assert app.test_client().post("/_mockmj/clock/advance", json={"seconds": 600}).status_code == 200


def test_a_new_task_under_a_reused_id_is_not_answered_with_the_old_one() -> None:
    """With a seed, a full reset gives the same ids again: the remembered JSON must go with the reset."""
    app = app_of()
    task_id = imagine(app, "a red fox")
    finish(app)
    assert fetch(app, task_id)["prompt"] == "a red fox"
    assert app.test_client().post("/_mockmj/reset", json={}).status_code == 200
    assert imagine(app, "a blue whale") == task_id
    finish(app)
    assert fetch(app, task_id)["prompt"] == "a blue whale"


def test_a_key_reset_forgets_its_tasks() -> None:
    app = app_of()
    mine, theirs = imagine(app, "mine"), imagine(app, "theirs", "k2")
    finish(app)
    fetch(app, mine), fetch(app, theirs, "k2")
    finished = app.extensions["mockmj"].finished
    assert len(finished) == 2
    assert app.test_client().post("/_mockmj/reset", json={"key": "k2"}).status_code == 200
    assert len(finished) == 1


def test_evicted_tasks_are_forgotten() -> None:
    app = app_of(max_tasks=2)
    first = imagine(app, "first")
    finish(app)
    fetch(app, first)
    for prompt in ("second", "third"):
        imagine(app, prompt)
        finish(app)
    assert first not in app.extensions["mockmj"].finished._by_id  # evicted with its task
