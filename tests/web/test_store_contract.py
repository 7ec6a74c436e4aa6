"""The store contract: memory, SQLite and Redis give the same answers to the same requests, and each
shared backend keeps the promises the engine builds on for its records (versions, deletions seen). The logs and
the due callbacks, which every backend keeps alike, are checked in tests/engine/test_store_logs.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mockmj.config import AccountConfig, load_settings
from mockmj.store.base import Head, open_store
from mockmj.store.records import TaskRow
from mockmj.web.app import create_app

KEY = {"Authorization": "Bearer tenant-a"}
OTHER = {"Authorization": "Bearer tenant-b"}


def transcript(store: str, timing: str) -> list[Any]:
    """One scripted run through the API and the control plane, every answer kept (seeded, virtual time). A
    shared store's worker keeps one finished task in memory: every other one it reads back from the store."""
    app = create_app(load_settings(store=store, timing=timing, seed=11, task_cache=1))
    c = app.test_client()
    said: list[Any] = []

    def note(response: Any) -> Any:
        said.append((response.status_code, response.get_json(silent=True)))
        return response.get_json(silent=True)

    def finish(task_id: str) -> Any:
        for _ in range(40):  # per-poll: each poll moves the task; manual: the clock does
            seen = note(c.get(f"/mj/task/{task_id}/fetch", headers=KEY))
            if seen["status"] == "SUCCESS":
                return seen
            note(c.post("/_mockmj/clock/advance", json={"seconds": 3}))
        raise AssertionError(f"task {task_id} did not finish")

    grid = note(c.post("/mj/submit/imagine", json={"prompt": "a red fox --ar 16:9"}, headers=KEY))["result"]
    done = finish(grid)
    upscale = done["buttons"][0]["customId"]
    child = note(c.post("/mj/submit/action", json={"taskId": grid, "customId": upscale}, headers=KEY))["result"]
    note(c.post("/_mockmj/rules", json={"match": {"operation": "submitImagine"}, "respond": {"code": 23},
                                        "times": 1}))
    note(c.post("/mj/submit/imagine", json={"prompt": "refused once"}, headers=KEY))
    doomed = note(c.post("/mj/submit/imagine", json={"prompt": "then accepted"}, headers=KEY))["result"]
    note(c.post(f"/mj/task/{doomed}/cancel", headers=KEY))
    note(c.post("/mj/submit/imagine", json={"prompt": "a failure --mockmj fail:banned prompt"}, headers=OTHER))
    note(c.post("/_mockmj/clock/advance", json={"seconds": 120}))
    finish(child)
    note(c.post("/mj/task/list-by-condition", json={"ids": [grid, child, doomed]}, headers=KEY))
    note(c.get("/_mockmj/keys/tenant-a"))
    note(c.get("/_mockmj/keys/tenant-b"))
    note(c.get("/_mockmj/rules"))
    note(c.get("/_mockmj/accounts"))
    journal = c.get("/_mockmj/requests").get_json()
    said.append([(e["seq"], e["method"], e["path"], e["status"], e["code"]) for e in journal["items"]])
    note(c.post("/_mockmj/reset", json={"key": "tenant-a"}))
    note(c.get(f"/mj/task/{grid}/fetch", headers=KEY))
    note(c.get("/_mockmj/keys/tenant-a"))
    app.extensions["mockmj"].callbacks.stop()
    return said


def test_every_store_gives_the_answers_of_the_memory_store(shared_store: str) -> None:
    expected = transcript("memory", "manual")
    got = transcript(shared_store, "manual")
    assert got == expected
    forced = [e for e in expected if isinstance(e, tuple) and isinstance(e[1], dict) and e[1].get("code") == 23]
    assert len(forced) == 1  # the rule fired, once


def test_a_second_mock_on_the_same_store_sees_the_first_ones_world(shared_store: str) -> None:
    settings = load_settings(store=shared_store, timing="manual", seed=5)
    first, second = create_app(settings), create_app(settings)
    a, b = first.test_client(), second.test_client()
    task = a.post("/mj/submit/imagine", json={"prompt": "a lighthouse"}, headers=KEY).get_json()["result"]
    assert b.get(f"/mj/task/{task}/fetch", headers=KEY).get_json()["status"] == "NOT_START"
    b.post("/_mockmj/clock/advance", json={"seconds": 120})
    assert a.get(f"/mj/task/{task}/fetch", headers=KEY).get_json()["status"] == "SUCCESS"
    balances = [c.get("/_mockmj/keys/tenant-a").get_json()["balance"] for c in (a, b)]
    assert balances[0] == balances[1] < 1_000_000
    b.post("/_mockmj/reset", json={})
    assert a.get(f"/mj/task/{task}/fetch", headers=KEY).status_code == 404
    for app in (first, second):
        app.extensions["mockmj"].callbacks.stop()


def polled_path(stores: list[str]) -> list[tuple[str, str]]:
    """Per-poll timing: each poll moves a task one milestone; the polls alternate between the given mocks."""
    apps = [create_app(load_settings(store=store, timing="per-poll", seed=2)) for store in stores]
    clients = [app.test_client() for app in apps]
    task = clients[0].post("/mj/submit/imagine", json={"prompt": "a kite"}, headers=KEY).get_json()["result"]
    path = []
    for n in range(40):
        seen = clients[n % len(clients)].get(f"/mj/task/{task}/fetch", headers=KEY).get_json()
        path.append((seen["status"], seen["progress"]))
        if seen["status"] == "SUCCESS":
            break
    for app in apps:
        app.extensions["mockmj"].callbacks.stop()
    return path


def test_per_poll_timing_moves_a_task_once_per_poll_whichever_mock_answers(shared_store: str) -> None:
    alone = polled_path(["memory"])
    assert alone[-1] == ("SUCCESS", "100%") and len(alone) > 3
    assert polled_path([shared_store, shared_store]) == alone


def test_concurrent_submissions_through_two_mocks_never_share_an_id_and_charge_exactly(shared_store: str) -> None:
    settings = load_settings(store=shared_store, timing="manual", seed=3, default_balance=10 * 37,
                             accounts=[AccountConfig(core_size=50, queue_size=100)])
    apps = [create_app(settings), create_app(settings)]
    ids: list[str] = []
    codes: list[int] = []
    lock = threading.Lock()

    def submit(app: Any) -> None:
        client = app.test_client()
        for i in range(25):
            body = client.post("/mj/submit/imagine", json={"prompt": f"cat {i}"}, headers=KEY).get_json()
            with lock:
                codes.append(body["code"])
                if body["code"] in (1, 22):  # accepted (22: waits in the account's queue)
                    ids.append(body["result"])

    threads = [threading.Thread(target=submit, args=(app,)) for app in apps for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(codes) == 100
    assert len(ids) == 37, codes  # 370 credits at 10 a submission: exactly 37 accepted, the rest refused
    assert len(set(ids)) == len(ids)
    assert codes.count(1) + codes.count(22) == 37 and set(codes) <= {1, 22, 25}
    balance = apps[0].test_client().get("/_mockmj/keys/tenant-a").get_json()["balance"]
    assert balance == 0
    for app in apps:
        app.extensions["mockmj"].callbacks.stop()


# ------------------------------------------------------------------------------------ the backends alone
@pytest.fixture
def backend(shared_store: str) -> Any:
    store = open_store(shared_store)
    yield store
    store.close()


def test_records_are_read_back_by_version_and_deletions_are_seen(backend: Any) -> None:
    assert backend.head() == Head(0, 0)
    with backend.exclusive():
        first = backend.put([("task:1", b"one"), ("key:k", b"kay")], backend.head())
    with backend.exclusive():
        second = backend.put([("task:1", b"uno"), ("task:2", b"two")], first)
    with backend.exclusive():
        third = backend.put([("task:2", None)], second)
    assert backend.head() == third
    assert (first.version, second.version, third.version) == (1, 2, 3)
    head, since_first = backend.changes(first.version)
    assert head == third
    assert dict(since_first) == {"task:1": b"uno", "task:2": None}
    _, everything = backend.everything()
    assert dict(everything) == {"key:k": b"kay"}  # the world's records; tasks and uploads are read when asked
    assert (backend.record("task:1"), backend.record("task:2"), backend.record("key:k")) == (b"uno", None, b"kay")
    assert dict(backend.records()) == {"task:1": b"uno", "key:k": b"kay"}
    with backend.exclusive():
        wiped = backend.wipe()
    assert wiped.epoch == third.epoch + 1 and wiped.version == 0
    assert backend.everything()[1] == []


def test_the_task_index_finds_tasks_by_owner_order_end_and_hash(backend: Any) -> None:
    def row(ident: str, owner: str, ends: int | None, image_hash: str | None = None) -> TaskRow:
        return TaskRow(ident, owner, ends, image_hash)

    head = backend.head()
    with backend.exclusive():
        head = backend.put([(f"task:{i}", b"t") for i in "abcd"], head,
                           [row("a", "x", 10, "h-a"), row("b", "y", None), row("c", "x", 30, "h-c"),
                            row("d", "x", None)])
    assert backend.task_total() == 4
    assert backend.task_ids() == ["a", "b", "c", "d"]  # submission order: the order the store first met them
    assert backend.task_ids("x", newest_first=True, limit=2) == ["d", "c"]
    assert backend.task_ids(ended_by=20) == ["a"] and backend.task_ids(ended_by=30, limit=1) == ["a"]
    assert backend.task_ids("x", open_at=20) == ["c", "d"]  # ends after 20, or not known yet
    assert backend.task_ids("y", open_at=10**15) == ["b"]
    assert (backend.task_by_hash("h-c"), backend.task_by_hash("h-zz")) == ("c", None)
    with backend.exclusive():  # a later write keeps the task's place; a deletion takes it out of the index
        head = backend.put([("task:a", None), ("task:d", b"t")], head, [row("d", "x", 5)])
    assert backend.task_ids() == ["b", "c", "d"] and backend.task_total() == 3
    assert backend.task_ids(ended_by=20) == ["d"] and backend.task_by_hash("h-a") is None
    assert backend.task_ids("x", open_at=20) == ["c"]
    with backend.exclusive():
        backend.wipe()
    assert backend.task_total() == 0 and backend.task_ids("x") == [] and backend.task_by_hash("h-c") is None


def test_an_unusable_store_url_is_a_clear_error(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        open_store(f"sqlite:{tmp_path / 'missing' / 'mock.db'}")
    with pytest.raises(ValueError, match="cannot reach Redis"):
        open_store("redis://127.0.0.1:1/0")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(ValueError, match="not a mockmj SQLite store"):
        open_store(f"sqlite:{not_a_db}")


@pytest.mark.parametrize("path", ["/mj/task/{id}/fetch", "/mj/task/{id}/image-seed"])  # hot path and Flask's
def test_one_request_asks_a_shared_store_once_whether_other_workers_wrote(shared_store: str, path: str) -> None:
    app = create_app(load_settings(store=shared_store, timing="manual"))
    c = app.test_client()
    task = c.post("/mj/submit/imagine", json={"prompt": "a heron"}, headers=KEY).get_json()["result"]
    c.post("/_mockmj/clock/advance", json={"seconds": 120})
    store = app.extensions["mockmj"].engine.world.store
    looks: list[Head] = []
    original = store.head
    store.head = lambda: looks.append(original()) or looks[-1]
    answer = c.get(path.format(id=task), headers=KEY)
    assert answer.status_code == 200
    assert len(looks) == 1  # auth, rules, the task: one catch-up for the whole request
    app.extensions["mockmj"].callbacks.stop()


def test_tombstones_are_purged_and_a_worker_far_behind_reloads(shared_store: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleted records do not pile up in the store; a worker that missed deletions since purged still forgets."""
    from mockmj.store import records

    monkeypatch.setattr(records, "PURGE_EVERY", 5)
    monkeypatch.setattr(records, "PURGE_LAG", 10)
    settings = load_settings(store=shared_store, timing="manual", seed=5)
    busy, idle = create_app(settings), create_app(settings)
    a, b = busy.test_client(), idle.test_client()
    first = a.post("/mj/submit/imagine", json={"prompt": "gone soon"}, headers=KEY).get_json()["result"]
    assert b.get(f"/mj/task/{first}/fetch", headers=KEY).status_code == 200  # the idle worker has seen it
    for n in range(60):  # tasks made and dropped again and again: a tombstone each time
        a.post("/mj/submit/imagine", json={"prompt": f"p{n}"}, headers=KEY)
        a.post("/_mockmj/reset", json={"key": "tenant-a"})
    kept = a.post("/mj/submit/imagine", json={"prompt": "kept"}, headers=KEY).get_json()["result"]
    store = busy.extensions["mockmj"].engine.world.store
    head, rows = store.changes(0)
    assert head.purged > 0
    tombstones = [name for name, value in rows if value is None]
    assert len(tombstones) <= 2 * (records.PURGE_LAG + records.PURGE_EVERY), tombstones  # not one per task made
    assert b.get(f"/mj/task/{first}/fetch", headers=KEY).status_code == 404  # deleted, though purged since
    assert {t["id"] for t in b.get("/mj/task/list", headers=KEY).get_json()} == {kept}
    for app in (busy, idle):
        app.extensions["mockmj"].callbacks.stop()


def test_a_redis_database_of_an_earlier_mockmj_is_refused_at_start(fresh_redis: str) -> None:
    """An earlier mockmj kept task records with the world's and no index of them: this version says so."""
    import redis

    client = redis.Redis.from_url(fresh_redis)
    try:
        client.hset("mockmj:rec", mapping={"task:1717200000000123": b"{}", "key:k": b"{}"})
        with pytest.raises(ValueError, match="written by an earlier mockmj"):
            open_store(fresh_redis)
    finally:
        client.close()
