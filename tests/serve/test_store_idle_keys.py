"""Per-key state on the shared stores stays bounded: in any-key mode a key that no worker has used for
`idle_key_seconds` is forgotten (its tasks, uploads, balance and its mark in the store), whichever worker used it
last, on SQLite and on Redis. Two apps on one store stand for two workers; the keys' clock is a virtual one, so no
test waits for time to pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mockmj.config import load_settings
from mockmj.serve.inprocess import release
from mockmj.store.ratelimit import KeyActivity
from mockmj.web.app import create_app

IDLE_S = 3600  # the default idle_key_seconds; the sweep interval is then 60 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_workers(shared_store: str) -> Iterator[tuple[Any, Any, Clock]]:
    settings = load_settings(store=shared_store, timing="manual", seed=3, idle_key_seconds=IDLE_S)
    apps = [create_app(settings), create_app(settings)]
    clock = Clock()
    for app in apps:
        app.extensions["mockmj"].engine.ledger.clock = clock
    yield apps[0], apps[1], clock
    for app in apps:
        release(app)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def keys(app: Any) -> set[str]:
    return set(app.extensions["mockmj"].engine.world.keys)


def activity(app: Any) -> KeyActivity:
    found = app.extensions["mockmj"].engine.ledger.activity
    assert found is not None
    return found


def test_a_key_idle_on_every_worker_is_forgotten_by_another(two_workers: tuple[Any, Any, Clock]) -> None:
    a, b, clock = two_workers
    ca, cb = a.test_client(), b.test_client()
    task = ca.post("/mj/submit/imagine", json={"prompt": "left behind"}, headers=auth("idle-key")).get_json()
    assert task["code"] == 1
    cb.get("/mj/task/list", headers=auth("busy-key"))
    assert {"idle-key", "busy-key"} <= keys(b)
    # the busy key goes on being used, on the other worker, until just before the idle one has been idle too long
    for step in range(1, 60):
        clock.now += 60
        assert cb.get("/mj/task/list", headers=auth("busy-key")).status_code == 200
        assert "idle-key" in keys(b), f"forgotten after {step} minutes"
    clock.now += 61
    cb.get("/mj/task/list", headers=auth("busy-key"))
    for app, client in ((b, cb), (a, ca)):  # gone for both workers, the one that used it included
        client.get("/mj/task/list", headers=auth("busy-key"))  # a request: the worker catches up with the store
        assert keys(app) == {"busy-key"}
    assert activity(a).count() == 1  # the idle key's mark went with it
    # coming back, the key starts afresh
    assert ca.get(f"/mj/task/{task['result']}/fetch", headers=auth("idle-key")).status_code == 404


def test_a_key_used_on_one_worker_is_kept_by_the_other(two_workers: tuple[Any, Any, Clock]) -> None:
    a, b, clock = two_workers
    ca, cb = a.test_client(), b.test_client()
    task = ca.post("/mj/submit/imagine", json={"prompt": "kept"}, headers=auth("worker-a-key")).get_json()["result"]
    for _ in range(180):  # three idle periods; worker B sweeps every minute, worker A keeps using its key
        clock.now += 60
        ca.get("/mj/task/list", headers=auth("worker-a-key"))
        cb.get("/mj/task/list", headers=auth("worker-b-key"))
    assert cb.get(f"/mj/task/{task}/fetch", headers=auth("worker-a-key")).status_code == 200
    assert {"worker-a-key", "worker-b-key"} <= keys(a)


def test_a_stream_of_throwaway_keys_stays_bounded(two_workers: tuple[Any, Any, Clock]) -> None:
    a, b, clock = two_workers
    clients = [a.test_client(), b.test_client()]
    most = 0
    for n in range(400):  # a new key every 30 s, for 200 minutes: at most about an idle period's worth live
        clock.now += 30
        clients[n % 2].post("/mj/submit/imagine", json={"prompt": f"p{n}"}, headers=auth(f"throwaway-{n}"))
        most = max(most, len(keys(a)), activity(a).count())
    live = IDLE_S // 30 + 2 * 60 // 30 + 2  # an idle period of keys, plus the sweep interval's lag on each worker
    assert most <= live, most
    assert len(keys(b)) <= live and activity(b).count() <= live
    assert len(keys(b)) > 0  # the recent keys are there


def test_key_activity_claims_each_idle_key_once(shared_store: str) -> None:
    first, second = KeyActivity(shared_store), KeyActivity(shared_store)
    try:
        first.touch({"a": 10.0, "b": 20.0, "c": 30.0})
        second.touch({"a": 25.0, "b": 5.0})  # a later use is kept, an earlier one does not undo it
        assert sorted(second.claim_idle(21.0)) == ["b"]
        assert first.claim_idle(21.0) == []
        assert sorted(first.claim_idle(31.0)) == ["a", "c"]
        assert first.count() == second.count() == 0
    finally:
        first.close()
        second.close()


@pytest.mark.timeout(30)  # it used to wait for SQLite's 60 s busy timeout, then answer 503
def test_a_key_s_rate_limit_can_be_changed_again(shared_store: str) -> None:
    """A new limit's counts are named anew: nothing is written to the limits' storage inside the transaction
    that changes the key (on SQLite, a second writer on the same file that waited for the first)."""
    app = create_app(load_settings(store=shared_store, timing="manual"))
    client = app.test_client()
    try:
        for rate in (5, 0.001, 0.001, None, 0.001):  # each change gives a full allowance: one request here
            assert client.patch("/_mockmj/keys/tenant-a", json={"rateLimit": rate}).status_code == 200
            assert client.get("/mj/task/list", headers=auth("tenant-a")).status_code == 200
        assert client.get("/mj/task/list", headers=auth("tenant-a")).status_code == 429  # the limit holds
    finally:
        app.extensions["mockmj"].callbacks.stop()
        app.extensions["mockmj"].engine.close()


def test_a_forgotten_key_leaves_nothing_in_the_memory_rate_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory store (one process): limits' memory storage kept an entry for every key it had counted."""
    from types import SimpleNamespace

    from mockmj.engine import ledger

    clock = Clock()
    monkeypatch.setattr(ledger, "time", SimpleNamespace(monotonic=clock, time=clock))
    app = create_app(load_settings(default_rate_limit=100.0, idle_key_seconds=IDLE_S))
    client = app.test_client()
    limiter = app.extensions["mockmj"].engine.ledger.limiter
    try:
        for n in range(50):
            assert client.get("/mj/task/list", headers=auth(f"throwaway-{n}")).status_code == 200
        assert len(limiter.storage.events) == 50  # type: ignore[attr-defined]
        clock.now += IDLE_S + 61
        client.get("/mj/task/list", headers=auth("the-last-one"))
        assert keys(app) == {"the-last-one"}
        assert len(limiter.storage.events) == 1  # type: ignore[attr-defined]
    finally:
        app.extensions["mockmj"].callbacks.stop()
