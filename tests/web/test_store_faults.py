"""A store that fails while a request is served: the client gets the dialect's 503 with Retry-After, nothing of
the request stays in the worker's memory or is charged, and the next request after the store is back just works.
(The real outages, a Redis stopped, paused and restarted, are in tests/serve/test_store_outage.py.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockmj.config import load_settings
from mockmj.store.base import StoreUnavailable
from mockmj.web.app import create_app

KEY = {"Authorization": "Bearer tenant-a"}


@pytest.fixture(params=["88api", "proxy"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made = create_app(load_settings(store=f"sqlite:{tmp_path / 'mock.db'}", timing="manual",
                                    dialect=request.param))
    yield made
    made.extensions["mockmj"].callbacks.stop()


class Failing:
    """Makes one method of the app's store fail, as a store gone at that moment would."""

    def __init__(self, app: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
        store = app.extensions["mockmj"].engine.world.store
        real = getattr(store, method)
        self.on = True

        def failing(*args: Any, **kwargs: Any) -> Any:
            if self.on:
                raise StoreUnavailable(store.url, "OperationalError: database or disk is full")
            return real(*args, **kwargs)

        monkeypatch.setattr(store, method, failing)


def ids_of(client: Any) -> set[str]:
    return {t["id"] for t in client.get("/mj/task/list", headers=KEY).get_json()}


def balance(client: Any) -> int:
    return int(client.get("/_mockmj/keys/tenant-a").get_json()["balance"])


@pytest.mark.parametrize("method", ["put", "exclusive"])
def test_a_write_the_store_refuses_is_a_503_and_leaves_no_trace(app: Any, method: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    c = app.test_client()
    kept = c.post("/mj/submit/imagine", json={"prompt": "kept"}, headers=KEY).get_json()["result"]
    money = balance(c)
    failing = Failing(app, method, monkeypatch)
    for path, body in [("/mj/submit/imagine", {"prompt": "lost"}), ("/mj/submit/describe", {"base64": PNG})]:
        answer = c.post(path, json=body, headers=KEY)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert answer.mimetype == "application/json"
        said = answer.get_json()
        if app.extensions["mockmj"].dialect.error_body == "spring":
            assert said["status"] == 503 and "unavailable" in said["message"]
        else:
            assert said["code"] == 503 and "database or disk is full" in said["description"]
    failing.on = False
    assert ids_of(c) == {kept}  # no task that only this worker would show
    assert balance(c) == money  # nothing charged
    again = c.post("/mj/submit/imagine", json={"prompt": "after"}, headers=KEY).get_json()
    assert again["code"] == 1 and ids_of(c) == {kept, again["result"]}


def test_a_503_is_in_the_access_log(app: Any, monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    c = app.test_client()
    Failing(app, "head", monkeypatch)
    with caplog.at_level(logging.INFO, logger="mockmj.access"):
        assert c.get("/mj/task/x/fetch", headers=KEY).status_code == 503
        assert c.post("/mj/submit/imagine", json={"prompt": "p"}, headers=KEY).status_code == 503
    lines = [r.getMessage() for r in caplog.records if r.name == "mockmj.access"]
    assert any("/mj/task/x/fetch" in line and "503" in line for line in lines), lines
    assert any("/mj/submit/imagine" in line and "503" in line for line in lines), lines


def test_health_names_the_stores_problem(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c = app.test_client()
    assert c.get("/_mockmj/health").status_code == 200
    failing = Failing(app, "head", monkeypatch)
    answer = c.get("/_mockmj/health")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.get_json()["status"] == "store unavailable"
    assert "database or disk is full" in answer.get_json()["storeError"]
    # a poll meets the same store on its way in: a 503 too, not a bare 500
    assert c.get("/mj/task/x/fetch", headers=KEY).status_code == 503
    failing.on = False
    assert c.get("/_mockmj/health").get_json()["status"] == "ok"


PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAA"
       "AElFTkSuQmCC")
