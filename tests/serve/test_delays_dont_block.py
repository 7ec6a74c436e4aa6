"""Requests a control rule delays (latencyMs) must not keep the others waiting (web/delays.py).

Twenty requests delayed 2 s each are in flight at once, on a real server on loopback; a request without
delay must then be answered well before any of them (under half the delay), and each delayed one no
sooner than its delay. On the in-process server of the test suite and the pytest plugin, and on
`mockmj serve` (granian) given the threads web/delays.py asks for."""

from __future__ import annotations

import threading
import time

import requests

from mockmj.serve.inprocess import start_mock
from mockmj.web.delays import DELAY_HEADROOM, serving_threads
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


def test_the_headroom_is_on_top_of_the_working_threads() -> None:
    assert serving_threads(8) == 8 + DELAY_HEADROOM and DELAY_HEADROOM >= DELAYED
