"""The logs and due-callbacks parts of the Store protocol, one set of tests for every backend: the memory store
(this process), SQLite (a file) and Redis (a real redis-server on loopback). The journal and the callbacks use
every store through the same calls, so what they build on is checked here once for all three."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mockmj.engine.journal import Journal
from mockmj.store.base import Store, open_store
from mockmj.store.memory import ENTRY_OVERHEAD, MemoryStore, entry_weight


@pytest.fixture(params=["memory", "sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'mock.db'}"
    if request.param == "redis":
        return request.getfixturevalue("fresh_redis")
    return "memory"


@pytest.fixture
def connect(url: str) -> Iterator[Callable[[], Store]]:
    """Connections to one store, as workers have: a shared store's are separate clients of the same data; the
    memory store is one process's, so every "worker" is that same store."""
    opened: list[Store] = []
    memory = open_store("memory") if url == "memory" else None

    def make() -> Store:
        if memory is not None:
            return memory
        opened.append(open_store(url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(connect: Callable[[], Store]) -> Store:
    return connect()


# ------------------------------------------------------------------------------------------------ logs
def test_entries_are_numbered_the_latest_kept_and_a_tenant_forgotten(store: Store) -> None:
    for n in range(7):
        assert store.append("journal", "a" if n % 2 else "b", {"n": n}, 5) == n + 1
    assert store.total("journal") == 7
    assert [e.seq for e in store.entries("journal")] == [3, 4, 5, 6, 7]
    store.clear_log("journal", "a")
    assert [(e.seq, e.key, e.value) for e in store.entries("journal")] == [(3, "b", {"n": 2}), (5, "b", {"n": 4}),
                                                                           (7, "b", {"n": 6})]
    assert store.total("journal") == 7  # forgetting a tenant does not renumber
    store.clear_log("journal")
    assert store.entries("journal") == [] and store.total("journal") == 0
    assert store.append("journal", None, {"n": 0}, 5) == 1  # numbered afresh


def test_values_read_back_as_json_data_and_logs_stay_apart(store: Store) -> None:
    entry = {"path": "/mj/task/1/fetch", "billable": False, "latencyMs": 1.25, "rule": None,
             "requestHeaders": {"Accept": "*/*"}, "ids": ["t1", "t2"], "body": "雪の中の狐", "code": 0}
    store.append("journal", "k", entry, 10)
    store.append("outbox", "k", {"taskId": "t1"}, 10)
    (kept,) = store.entries("journal")
    assert kept.value == entry
    assert [e.value for e in store.entries("outbox")] == [{"taskId": "t1"}]
    store.clear_log("outbox")
    assert len(store.entries("journal")) == 1 and store.total("outbox") == 0


def test_a_log_kept_to_no_entries_still_counts_them(store: Store) -> None:
    assert [store.append("journal", None, {"n": n}, 0) for n in range(3)] == [1, 2, 3]
    assert store.entries("journal") == [] and store.total("journal") == 3


def test_workers_appending_at_once_get_distinct_numbers(connect: Callable[[], Store]) -> None:
    seqs: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        store = connect()
        for n in range(25):
            seq = store.append("journal", None, {"worker": worker, "n": n}, 1000)
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(seqs) == list(range(1, 101))
    kept = connect().entries("journal")
    assert [e.seq for e in kept] == list(range(1, 101))
    for worker in range(4):  # each worker's entries in the order it appended them
        assert [e.value["n"] for e in kept if e.value["worker"] == worker] == list(range(25))


# ------------------------------------------------------------------------------------------------ due callbacks
def claim(store: Store, now: int, lease_s: float = 60) -> list[str]:
    """Claim what is due and release it as done at once (one worker that sent everything it claimed)."""
    claimed = store.claim_due(now, lease_s)
    tasks = sorted({value.split("-")[0] for _, value in claimed})
    store.release_due(tasks, [handle for handle, _ in claimed])
    return [value for _, value in claimed]


def test_due_callbacks_are_claimed_once_in_time_order(connect: Callable[[], Store]) -> None:
    store, other = connect(), connect()  # two workers of the same store
    store.add_due([(300, "a", "t1", "t1-late"), (100, "a", "t2", "t2-early"), (200, "b", "t3", "t3-middle"),
                   (900, "b", "t4", "t4-future")])
    assert store.next_due() == 100
    assert claim(other, 250) == ["t2-early", "t3-middle"]
    assert claim(store, 250) == []
    assert store.next_due() == 300
    assert claim(store, 300) == ["t1-late"]
    store.drop_due("b")
    assert store.next_due() is None


def test_callbacks_due_at_one_time_keep_the_order_they_were_added_in(store: Store) -> None:
    store.add_due([(100, "a", "t1", "t1-first"), (100, "a", "t1", "t1-second")])
    store.add_due([(100, "a", "t1", "t1-third"), (50, "a", "t2", "t2-earlier")])
    assert claim(store, 100) == ["t2-earlier", "t1-first", "t1-second", "t1-third"]


def test_a_value_is_read_back_as_it_was_added(store: Store) -> None:
    store.add_due([(100, "a", "t1", [100, 7, "t1", 2, "a"])])
    ((_, value),) = store.claim_due(100, 60)
    assert list(value) == [100, 7, "t1", 2, "a"]  # a tuple or a list, whichever the store keeps


def test_a_claimed_task_is_leased_until_released(connect: Callable[[], Store]) -> None:
    """A task's later callback waits while its earlier one is still being sent (by this worker or another), and
    then goes."""
    store, other = connect(), connect()
    store.add_due([(100, "a", "t1", "t1-first"), (100, "a", "t2", "t2-first")])
    first = other.claim_due(100, 60)
    assert [value for _, value in first] == ["t1-first", "t2-first"]
    assert store.next_due() == 100  # claimed, not yet sent: still in the store
    store.add_due([(200, "a", "t1", "t1-second"), (200, "a", "t2", "t2-second")])
    other.release_due(["t2"], [first[1][0]])
    assert claim(store, 300) == ["t2-second"]  # t1 is still being sent
    assert claim(other, 300) == []  # by anyone: the lease is the task's, not a worker's
    other.release_due(["t1"], [first[0][0]])
    assert claim(store, 300) == ["t1-second"]


def test_what_a_dead_worker_claimed_is_claimed_again_when_its_lease_runs_out(connect: Callable[[], Store]) -> None:
    store, dead = connect(), connect()
    store.add_due([(100, "a", "t1", "t1-first"), (200, "a", "t1", "t1-second")])
    assert [value for _, value in dead.claim_due(300, 0)] == ["t1-first", "t1-second"]  # then it dies
    assert claim(store, 300) == ["t1-first", "t1-second"]  # its lease of 0 s is over: sent by another
    assert claim(store, 300) == []


def test_a_callback_left_unsent_is_claimed_again_in_order(store: Store) -> None:
    store.add_due([(100, "a", "t1", "t1-first"), (200, "a", "t1", "t1-second")])
    claimed = store.claim_due(300, 60)
    store.release_due(["t1"], [])  # a store error stopped both: nothing done
    assert claim(store, 300) == [value for _, value in claimed]


def test_one_sent_is_gone_at_once_the_rest_of_its_claim_stays_leased(store: Store) -> None:
    store.add_due([(100, "a", "t1", "t1-first"), (200, "a", "t1", "t1-second")])
    first, second = store.claim_due(300, 60)
    store.release_due([], [first[0]])  # sent: deleted, the task still leased
    assert store.claim_due(300, 60) == []
    store.release_due(["t1"], [])
    assert claim(store, 300) == [second[1]]


def test_dropping_every_due_callback_frees_the_leases_too(store: Store) -> None:
    store.add_due([(100, "a", "t1", "t1-first"), (100, "b", "t2", "t2-first")])
    assert len(store.claim_due(100, 60)) == 2
    store.drop_due()
    assert store.next_due() is None
    store.add_due([(100, "a", "t1", "t1-again")])
    assert claim(store, 100) == ["t1-again"]  # not held back by the dropped claim's lease


def test_a_tenant_s_due_callbacks_are_dropped_alone(store: Store) -> None:
    store.add_due([(100, "a", "t1", "t1-a"), (150, "b", "t2", "t2-b"), (200, "a", "t3", "t3-a")])
    store.drop_due("a")
    assert claim(store, 300) == ["t2-b"]


# ------------------------------------------------------------------------------------------------ the journal
def test_the_journal_keeps_numbers_filters_and_forgets_alike_on_every_store(store: Store) -> None:
    journal = Journal(size=3, store=store)
    for n, key in enumerate(["a", "b", "a", "b", "a"]):
        journal.record({"method": "POST" if n % 2 else "GET", "path": f"/p{n}", "key": key, "billable": n == 3})
    assert journal.total == 5 and len(journal) == 3
    assert [e["seq"] for e in journal.query({})] == [3, 4, 5]
    assert [e["path"] for e in journal.query({"billable": "true"})] == ["/p3"]
    assert [e["seq"] for e in journal.query({"since": "3", "method": "GET"})] == [5]
    assert [e["seq"] for e in journal.query({}, limit=1)] == [5] and journal.query({}, limit=0) == []
    journal.clear("a")
    assert [e["path"] for e in journal.query({})] == ["/p3"]
    journal.clear()
    assert journal.query({}) == [] and journal.total == 0


def test_an_answer_is_a_copy_the_caller_may_change(store: Store) -> None:
    journal = Journal(size=3, store=store)
    journal.record({"path": "/a", "key": None})
    journal.query({})[0]["path"] = "/changed"
    assert journal.query({})[0]["path"] == "/a"


# ------------------------------------------------------------------------------------------------ memory alone
def test_the_memory_store_also_caps_a_log_by_the_bytes_of_its_texts() -> None:
    store = MemoryStore()
    heavy = {"n": 0, "requestHeaders": {"X-Big": "h" * 1000}}  # its headers' texts count, not only the top level
    cap = 3 * entry_weight(heavy)
    assert entry_weight(heavy) == ENTRY_OVERHEAD + len("n") + len("requestHeaders") + len("X-Big") + 1000
    for n in range(10):
        store.append("journal", None, {**heavy, "n": n}, 1000, max_bytes=cap)
    assert [e.value["n"] for e in store.entries("journal")] == [7, 8, 9]
    store.append("journal", None, {"n": 10, "body": "x" * cap}, 1000, max_bytes=cap)
    assert [e.value["n"] for e in store.entries("journal")] == [10]  # the newest is kept even if it alone is over
    store.clear_log("journal", "nobody")
    store.append("journal", None, {"n": 11}, 1000, max_bytes=cap)
    assert [e.value["n"] for e in store.entries("journal")] == [11]  # still weighed after a tenant's clear
    store.append("journal", None, {"n": 12}, 1000)
    assert len(store.entries("journal")) == 2  # no byte cap asked: entries only


def test_the_memory_store_keeps_the_object_it_was_given() -> None:
    """Nothing is serialised: recording a request on the memory store costs no encoding."""
    store = MemoryStore()
    entry: dict[str, Any] = {"path": "/a"}
    store.append("journal", None, entry, 10)
    store.add_due([(1, "a", "t1", entry)])
    assert store.entries("journal")[0].value is entry
    assert store.claim_due(1, 60)[0][1] is entry


def test_the_memory_store_lease_is_on_its_own_clock() -> None:
    now = [1000.0]
    store = MemoryStore(wall=lambda: now[0])
    store.add_due([(1, "a", "t1", "first"), (2, "a", "t1", "second")])
    (handle, _), _ = store.claim_due(5, 30)
    store.release_due([], [handle])
    now[0] += 29.9
    assert store.claim_due(5, 30) == []  # the worker may still be sending
    now[0] += 0.2
    assert [value for _, value in store.claim_due(5, 30)] == ["second"]  # its lease ran out
