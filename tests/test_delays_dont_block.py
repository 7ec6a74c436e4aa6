"""Requests a control rule delays (latencyMs) must not keep the others waiting (web/delays.py).

Twenty requests delayed 2 s each are in flight at once, on a real server on loopback; a request without
delay must then be answered well before any of them (under half the delay), and each delayed one no
sooner than its delay. On waitress with 8 threads (as `mockmj serve`) whose pool follows the delayed
requests, and on granian (one worker) when it is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockmj.config import Settings
from mockmj.server import MockServer
from mockmj.web.app import create_app
from mockmj.web.delays import MAX_SLEEPING, DelayedRequests, follow_delays

from .test_cli import free_port

ROOT = Path(__file__).resolve().parents[1]
DELAYED = 20  # more than the 8 threads `mockmj serve` works with
DELAY_S = 2.0
SLOW, QUICK = "Bearer slow-key", "Bearer quick-key"


def wait_for(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(base + "/_mockmj/health", timeout=1)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


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


def test_on_waitress_whose_pool_follows_the_delays() -> None:
    settings = Settings(timing="fast", seed=3, strict=True)
    server = MockServer(create_app(settings), threads=settings.threads)
    # what waitress_server (mockmj/server.py) is to do for every mock it serves
    follow_delays(server.mock.delays, server._server.task_dispatcher.set_thread_count, settings.threads)
    try:
        delays_then_prompt_answer(server.base_url)
    finally:
        server.stop()


@pytest.fixture
def granian_mock(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("granian")
    (tmp_path / "delayed_mock.py").write_text(
        "from mockmj.config import Settings\nfrom mockmj.web.app import create_app\n"
        "app = create_app(Settings(timing='fast', seed=3, strict=True))\n")
    port = free_port()
    argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--no-ws",  # granian's blocking threads grow on demand (512 at most by default)
            "delayed_mock:app"]
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(base)
        except AssertionError:
            process.kill()
            pytest.fail(process.communicate(timeout=10)[1].decode(errors="replace")[-2000:])
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_on_granian(granian_mock: str) -> None:
    delays_then_prompt_answer(granian_mock)


# ------------------------------------------------------------------------------------------ the count
def test_listeners_hear_each_request_that_sleeps_and_wakes() -> None:
    delays, heard = DelayedRequests(), []
    delays.listeners.append(heard.append)
    others = [threading.Thread(target=delays.pause, args=(0.2,)) for _ in range(2)]
    for other in others:
        other.start()
    for other in others:
        other.join(timeout=5)
    assert heard == [1, 2, 1, 0] and delays.sleeping == 0


def test_the_pool_follows_within_a_bound() -> None:
    delays, sizes = DelayedRequests(), []
    follow_delays(delays, sizes.append, 8)
    delays.sleeping = MAX_SLEEPING + 5  # a flood of delayed requests
    delays.pause(0)
    assert sizes == [8 + MAX_SLEEPING, 8 + MAX_SLEEPING]
