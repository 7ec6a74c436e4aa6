"""Requests a control rule delays (latencyMs) must not keep the others waiting (web/delays.py).

Twenty requests delayed 2 s each are in flight at once, on a real server on loopback; a request without
delay must then be answered well before any of them (under half the delay), and each delayed one no
sooner than its delay. On the in-process server of the test suite and the pytest plugin, and on
`mockmj serve` (granian) given the threads web/delays.py asks for. And the other side of the trade: given no
spare thread (`--threads 1 --spare-threads 0`), a delayed request holds up every other one."""

from __future__ import annotations

import threading
import time

import requests

from mockmj.model.settings import Settings
from mockmj.serve.inprocess import start_mock
from mockmj.web.delays import serving_threads
from tests.stores import Worker

DELAYED = 20  # more than the 8 threads `mockmj serve` works with
DELAY_S = 2.0
SLOW, QUICK = "Bearer slow-key", "Bearer quick-key"


def delays_then_prompt_answer(base: str) -> None:
    """The scenario, against any server: DELAYED slow submits in flight, then one quick fetch."""
    rule = {"match": {"key": "slow-key"}, "respond": {"latencyMs": int(DELAY_S * 1000)}, "times": DELAYED}
    assert requests.post(base + "/_mockmj/rules", json=rule, timeout=5).status_code == 200
    quick = requests.post(base + "/mj/submit/imagine", json={"prompt": "quick"}, headers={"Authorization": QUICK},
                          timeout=5).json()["result"]
    finished: list[float] = []
    started = time.monotonic()

    def slow(i: int) -> None:
        answer = requests.post(base + "/mj/submit/imagine", json={"prompt": f"slow {i}"},
                               headers={"Authorization": SLOW}, timeout=30)
        assert answer.status_code == 200
        finished.append(time.monotonic() - started)

    senders = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(DELAYED)]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + DELAY_S / 2
    while requests.get(base + "/_mockmj/rules", timeout=5).json():  # every slow request has taken the rule
        assert time.monotonic() < deadline, "the delayed requests were not all taken in at once"
        time.sleep(0.02)
    asked = time.monotonic()
    answer = requests.get(f"{base}/mj/task/{quick}/fetch", headers={"Authorization": QUICK}, timeout=30)
    quick_took = time.monotonic() - asked
    assert answer.status_code == 200 and answer.json()["id"] == quick
    for sender in senders:
        sender.join(timeout=30)
    assert not finished or min(finished) >= asked - started + quick_took, "a delayed request came back first"
    assert quick_took < DELAY_S / 2, f"the undelayed fetch waited {quick_took:.2f} s behind the delayed ones"
    assert len(finished) == DELAYED and min(finished) >= DELAY_S * 0.95


def test_on_the_in_process_server() -> None:
    server = start_mock(timing="fast", seed=3, strict=True)
    try:
        delays_then_prompt_answer(server.base_url)
    finally:
        server.stop()


def test_on_serve_as_it_starts_by_default() -> None:
    """`mockmj serve` gives granian serving_threads(--threads) blocking threads: room for the delayed ones."""
    server = Worker("memory", env={"MOCKMJ_STRICT": "1"})
    try:
        delays_then_prompt_answer(server.base)
    finally:
        server.stop()


def test_the_spare_threads_are_on_top_of_the_working_threads() -> None:
    defaults = Settings()
    assert serving_threads(defaults) == 8 + 64 and defaults.spare_threads >= DELAYED
    assert serving_threads(Settings(threads=1, spare_threads=0)) == 1


def test_without_spare_threads_a_delay_holds_up_the_rest() -> None:
    """One thread in all: whatever is asked while a delayed request sleeps is answered after it. The rules are
    read until the delayed request has taken its rule (it takes it before it sleeps), so the read that finds
    the rule gone was answered by that one thread after the delay: at least DELAY_S after the request went."""
    server = Worker("memory", "--threads", "1", "--spare-threads", "0")
    try:
        base = server.base
        rule = {"match": {"key": "slow-key"}, "respond": {"latencyMs": int(DELAY_S * 1000)}, "times": 1}
        assert requests.post(base + "/_mockmj/rules", json=rule, timeout=5).status_code == 200
        answers: list[int] = []
        sent = time.monotonic()
        sender = threading.Thread(daemon=True, target=lambda: answers.append(requests.post(
            base + "/mj/submit/imagine", json={"prompt": "slow"}, headers={"Authorization": SLOW},
            timeout=30).status_code))
        sender.start()
        while requests.get(base + "/_mockmj/rules", timeout=30).json():
            assert time.monotonic() - sent < 30, "the delayed request never took its rule"
        waited = time.monotonic() - sent
        sender.join(timeout=30)
        assert answers == [200]
        assert waited >= DELAY_S * 0.95, f"answered {waited:.2f} s after the delayed request: not held up"
    finally:
        server.stop()
