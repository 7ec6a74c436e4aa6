"""`--store sqlite:PATH` survives a restart and `kill -9`: a `mockmj serve` process over a real socket, stopped
and started again on the same file."""

from __future__ import annotations

import base64
import io
import signal
import threading
import time
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from tests.stores import Worker, sqlite_url

KEY = {"Authorization": "Bearer tenant-a"}


def png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 90)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_restart_continues_where_the_mock_stopped(tmp_path: Path) -> None:
    store = sqlite_url(tmp_path)
    first = Worker(store, "--timing", "manual", "--seed", "4")
    try:
        base = first.base
        task = requests.post(base + "/mj/submit/imagine", json={"prompt": "a mill"}, headers=KEY, timeout=10).json()
        requests.post(base + "/_mockmj/clock/advance", json={"seconds": 4}, timeout=10)
        before = requests.get(f"{base}/mj/task/{task['result']}/fetch", headers=KEY, timeout=10).json()
        requests.patch(base + "/_mockmj/keys/tenant-a", json={"balance": 777}, timeout=10).raise_for_status()
        requests.patch(base + "/_mockmj/accounts/1118138338562560102", json={"remark": "kept"}, timeout=10)
        rule = requests.post(base + "/_mockmj/rules", json={"match": {"operation": "submitBlend"},
                                                           "respond": {"code": 24}, "times": 2}, timeout=10).json()
        uploaded = requests.post(base + "/mj/submit/upload-discord-images", json={"base64Array": [png()]},
                                 headers=KEY, timeout=10).json()["result"][0]
        clock = requests.get(base + "/_mockmj/clock", timeout=10).json()
    finally:
        first.stop(signal.SIGTERM)
    second = Worker(store, "--timing", "manual", "--seed", "4", port=first.port)
    try:
        base = second.base
        assert requests.get(f"{base}/mj/task/{task['result']}/fetch", headers=KEY, timeout=10).json() == before
        assert requests.get(base + "/_mockmj/clock", timeout=10).json() == clock  # the virtual clock too
        assert requests.get(base + "/_mockmj/keys/tenant-a", timeout=10).json()["balance"] == 777
        accounts = requests.get(base + "/_mockmj/accounts", timeout=10).json()
        assert accounts[0]["remark"] == "kept"
        assert requests.get(base + "/_mockmj/rules", timeout=10).json() == [rule]
        image = requests.get(uploaded, timeout=10)
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (32, 24)
        requests.post(base + "/_mockmj/clock/advance", json={"seconds": 120}, timeout=10)
        done = requests.get(f"{base}/mj/task/{task['result']}/fetch", headers=KEY, timeout=10).json()
        assert done["status"] == "SUCCESS" and requests.get(done["imageUrl"], timeout=30).status_code == 200
    finally:
        second.stop()


def test_a_task_that_fell_due_while_the_mock_was_down_is_at_its_due_state(tmp_path: Path) -> None:
    store = sqlite_url(tmp_path)
    first = Worker(store, "--timing", "fast")
    task = requests.post(first.base + "/mj/submit/imagine", json={"prompt": "a boat"}, headers=KEY, timeout=10).json()
    assert requests.get(f"{first.base}/mj/task/{task['result']}/fetch", headers=KEY,
                        timeout=10).json()["status"] != "SUCCESS"
    first.stop(signal.SIGKILL)
    time.sleep(3)  # the fast profile finishes a task about 1 s after it was submitted
    second = Worker(store, "--timing", "fast")
    try:
        fetched = requests.get(f"{second.base}/mj/task/{task['result']}/fetch", headers=KEY, timeout=10).json()
        assert fetched["status"] == "SUCCESS"
    finally:
        second.stop()


def test_kill_9_under_load_loses_no_acknowledged_submission(tmp_path: Path) -> None:
    store = sqlite_url(tmp_path)
    first = Worker(store, "--timing", "manual")
    requests.patch(first.base + "/_mockmj/accounts/1118138338562560102", json={"coreSize": 100, "queueSize": 100},
                   timeout=10).raise_for_status()
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(n: int) -> None:
        session = requests.Session()
        for i in range(400):  # bounded: the kill comes long before
            if stop.is_set():
                return
            try:
                answer = session.post(first.base + "/mj/submit/imagine", json={"prompt": f"load {n}-{i}"},
                                      headers=KEY, timeout=5).json()
            except (requests.RequestException, ValueError):
                return  # the server is gone: what was not answered was not acknowledged
            if answer["code"] in (1, 21, 22):
                with lock:
                    acknowledged.append(answer["result"])

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    first.stop()
    assert len(acknowledged) >= 40
    second = Worker(store, "--timing", "manual")
    try:
        session = requests.Session()
        missing = [i for i in acknowledged
                   if session.get(f"{second.base}/mj/task/{i}/fetch", headers=KEY, timeout=10).status_code != 200]
        assert missing == []
        listed: Any = requests.get(second.base + "/_mockmj/health", timeout=10).json()
        assert listed["tasks"] >= len(acknowledged) and listed["store"] == "sqlite"
    finally:
        second.stop()
