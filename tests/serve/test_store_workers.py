"""Two `mockmj serve` processes on one shared store (SQLite, Redis), each on its own port so that every
request goes to the worker a test picks: the cross-worker promises of a shared mock, over real sockets."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.helpers import Receiver
from tests.stores import Worker, flush_redis, roomy, workers

KEY = {"Authorization": "Bearer tenant-a"}


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def started_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Worker]]:
    """Two workers on one store of each kind, started once for the module (a start is most of a test's time)."""
    if request.param == "sqlite":
        store = f"sqlite:{tmp_path_factory.mktemp('pair') / 'mock.db'}"
    else:
        store = request.getfixturevalue("redis_url")
        flush_redis(store)
    with workers(store, 2, "--timing", "manual", "--seed", "9") as started:
        yield started


@pytest.fixture
def pair(started_pair: list[Worker]) -> list[Worker]:
    """The module's two workers after a full reset through one of them: an empty world, the settings' accounts,
    keys and clock, no rules, journal or callbacks, as two freshly started workers have."""
    requests.post(started_pair[1].base + "/_mockmj/reset", json={}, timeout=30).raise_for_status()
    return started_pair


def post(worker: Worker, path: str, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return requests.post(worker.base + path, json=body, headers=headers or KEY, timeout=30).json()


def get(worker: Worker, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(worker.base + path, headers=headers or KEY, timeout=30)


def spread(pair: list[Worker], count: int, call: Any) -> list[Any]:
    """`count` calls spread over both workers, 8 at a time."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(call, [pair[i % 2] for i in range(count)], range(count)))


def test_ids_never_collide_and_each_worker_fetches_the_others_tasks(pair: list[Worker]) -> None:
    roomy(pair[0])
    answers = spread(pair, 60, lambda w, i: post(w, "/mj/submit/imagine", {"prompt": f"owl {i}"}))
    ids = [a["result"] for a in answers if a["code"] in (1, 22)]
    assert len(ids) == 60 and len(set(ids)) == 60
    for n, task_id in enumerate(ids[:10]):
        assert get(pair[n % 2], f"/mj/task/{task_id}/fetch").json()["id"] == task_id


def test_a_rule_for_n_requests_fires_exactly_n_times_across_workers(pair: list[Worker]) -> None:
    roomy(pair[0])
    post(pair[1], "/_mockmj/rules", {"match": {"operation": "submitImagine"}, "respond": {"code": 23}, "times": 5})
    answers = spread(pair, 30, lambda w, i: post(w, "/mj/submit/imagine", {"prompt": f"bee {i}"}))
    assert Counter(a["code"] for a in answers)[23] == 5
    assert get(pair[0], "/_mockmj/rules").json() == []


def test_a_balance_is_charged_exactly_and_never_goes_below_zero(pair: list[Worker]) -> None:
    roomy(pair[0])
    requests.patch(pair[1].base + "/_mockmj/keys/tenant-a", json={"balance": 95}, timeout=10).raise_for_status()
    answers = spread(pair, 24, lambda w, i: post(w, "/mj/submit/imagine", {"prompt": f"ant {i}"}))
    codes = Counter(a["code"] for a in answers)
    assert codes[1] + codes[22] == 9 and codes[25] == 15  # 95 credits at 10 each
    for worker in pair:
        assert get(worker, "/_mockmj/keys/tenant-a").json()["balance"] == 5


def test_advancing_the_clock_on_one_worker_moves_every_worker_and_sends_each_callback_once(
        pair: list[Worker]) -> None:
    receiver = Receiver()
    try:
        ids = [post(pair[i % 2], "/mj/submit/imagine", {"prompt": f"fish {i}", "notifyHook": receiver.url})["result"]
               for i in range(4)]
        before = get(pair[1], f"/mj/task/{ids[0]}/fetch").json()
        assert before["status"] == "NOT_START"
        requests.post(pair[0].base + "/_mockmj/clock/advance", json={"seconds": 600}, timeout=60).raise_for_status()
        # seen by the other worker at once, and every callback was sent before the advance answered
        assert all(get(pair[1], f"/mj/task/{i}/fetch").json()["status"] == "SUCCESS" for i in ids)
        sent = [(p["id"], p["status"], p["progress"]) for p in receiver.payloads()]
        assert len(sent) == len(set(sent)), "a callback was sent twice"
        for task_id in ids:
            timeline = get(pair[1], f"/_mockmj/tasks/{task_id}/timeline").json()["events"]
            milestones = [(task_id, e["status"], e["progress"]) for e in timeline
                          if e["kind"] == "transition" and e["status"] != "NOT_START"]
            assert [s for s in sent if s[0] == task_id] == milestones
        outbox = [json.dumps(e["payload"], sort_keys=True) for e in get(pair[1], "/_mockmj/callbacks").json()["items"]]
        assert len(outbox) == len(sent)
    finally:
        receiver.close()


def test_in_real_time_each_milestone_is_sent_once_whatever_the_worker(shared_store: str) -> None:
    receiver = Receiver()
    try:
        with workers(shared_store, 2, "--timing", "fast") as started:
            ids = [post(started[i % 2], "/mj/submit/imagine",
                        {"prompt": f"crab {i}", "notifyHook": receiver.url})["result"] for i in range(4)]
            receiver.wait_for(lambda got: sum(p["status"] == "SUCCESS" for p in got) >= 4, timeout=30)
            time.sleep(0.5)  # a second sender would have sent by now
            sent = [(p["id"], p["status"], p["progress"]) for p in receiver.payloads()]
            assert len(sent) == len(set(sent)), "a callback was sent twice"
            assert {s[0] for s in sent if s[1] == "SUCCESS"} == set(ids)
    finally:
        receiver.close()


def test_the_journal_and_the_outbox_show_every_workers_entries(pair: list[Worker]) -> None:
    for n, worker in zip(range(6), itertools.cycle(pair), strict=False):
        get(worker, f"/mj/task/nothing-{n}/fetch")
    for worker in pair:
        paths = [e["path"] for e in get(worker, "/_mockmj/requests").json()["items"]]
        assert [p for p in paths if "nothing-" in p] == [f"/mj/task/nothing-{n}/fetch" for n in range(6)]
        seqs = [e["seq"] for e in get(worker, "/_mockmj/requests").json()["items"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_serve_with_two_workers_on_one_port_keeps_the_promises(shared_store: str) -> None:
    """`mockmj serve --workers 2`: the kernel spreads fresh connections over both worker processes."""
    server = Worker(shared_store, "--workers", "2", "--timing", "manual", "--seed", "1")
    try:
        roomy(server)
        requests.patch(server.base + "/_mockmj/keys/tenant-a", json={"balance": 200}, timeout=10).raise_for_status()

        def submit(_: Any) -> dict[str, Any]:
            with requests.Session() as fresh:  # a new connection: either worker may take it
                return fresh.post(server.base + "/mj/submit/imagine", json={"prompt": "gull"}, headers=KEY,
                                  timeout=30).json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(submit, range(30)))
        ids = [a["result"] for a in answers if a["code"] in (1, 22)]
        assert len(ids) == 20 and len(set(ids)) == 20  # 200 credits at 10 each
        assert Counter(a["code"] for a in answers)[25] == 10
        assert get(server, "/_mockmj/keys/tenant-a").json()["balance"] == 0
        journal = get(server, "/_mockmj/requests").json()
        assert sum(e["path"] == "/mj/submit/imagine" for e in journal["items"]) == 30
    finally:
        server.stop()


def test_a_rate_limit_holds_per_key_across_workers(pair: list[Worker]) -> None:
    requests.patch(pair[0].base + "/_mockmj/keys/tenant-a", json={"rateLimit": 1}, timeout=10).raise_for_status()
    started = time.monotonic()
    statuses = [get(pair[n % 2], "/mj/task/none/fetch").status_code for n in range(8)]
    elapsed = time.monotonic() - started
    allowed = sum(s != 429 for s in statuses)
    # one request a second, a burst of one: at most one more than the whole seconds that passed
    assert 1 <= allowed <= 1 + int(elapsed), (statuses, elapsed)
    assert statuses.count(429) >= 8 - allowed
