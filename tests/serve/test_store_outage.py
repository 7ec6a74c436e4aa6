"""`mockmj serve` on a shared store when things go wrong for real: a Redis stopped, paused and restarted under it,
a worker process killed, a store file that is not one this version can serve."""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import Receiver
from tests.redis_server import PersistentRedis, require_redis_server
from tests.stores import Worker, call, free_port, roomy

RECOVERY_S = 20  # the longest a test waits for the mock to answer again once the store is back


def until(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def redis_on_disk(tmp_path: Path) -> Any:
    require_redis_server()
    server = PersistentRedis(tmp_path)
    yield server
    server.stop()


@pytest.mark.timeout(180)
def test_a_redis_outage_is_answered_503_and_the_mock_recovers_by_itself(redis_on_disk: PersistentRedis) -> None:
    receiver = Receiver()
    server = Worker(redis_on_disk.url, "--workers", "2", "--timing", "fast")
    try:
        roomy(server)
        before = call(server, "POST", "/mj/submit/imagine", json={"prompt": "before"}).json()["result"]
        money = call(server, "GET", "/_mockmj/keys/tenant-a").json()["balance"]
        redis_on_disk.stop()
        for method, path, body in [("POST", "/mj/submit/imagine", {"prompt": "during"}),
                                   ("GET", f"/mj/task/{before}/fetch", None), ("GET", "/mj/task/list", None),
                                   ("GET", "/_mockmj/tasks", None)]:
            answer = call(server, method, path, json=body)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers["Content-Type"].startswith("application/json")
            assert answer.json()["code"] == 503, answer.text
        health = call(server, "GET", "/_mockmj/health")
        assert health.status_code == 503 and health.json()["status"] == "store unavailable"
        redis_on_disk.start()
        assert until(lambda: call(server, "GET", "/_mockmj/health").status_code == 200, RECOVERY_S)
        # what was acknowledged is there, what was refused is not, and nothing refused was charged
        assert {t["id"] for t in call(server, "GET", "/mj/task/list").json()} == {before}
        assert call(server, "GET", "/_mockmj/keys/tenant-a").json()["balance"] == money
        # and callbacks still go out on both workers' clocks: submitted after the outage, each task ends on SUCCESS
        after = [call(server, "POST", "/mj/submit/imagine", json={"prompt": f"after {n}", "notifyHook": receiver.url})
                 .json()["result"] for n in range(6)]
        receiver.wait_for(lambda got: {p["id"] for p in got if p["status"] == "SUCCESS"} >= set(after), timeout=30)
    finally:
        server.stop()
        receiver.close()


@pytest.mark.timeout(120)
def test_a_paused_redis_delays_answers_and_loses_nothing(redis_on_disk: PersistentRedis) -> None:
    server = Worker(redis_on_disk.url, "--workers", "2", "--timing", "fast")
    try:
        roomy(server)
        redis_on_disk.pause()
        time.sleep(1)  # the outage the requests below wait out (not a timing assertion: nothing is measured)
        redis_on_disk.resume()
        answers = [call(server, "POST", "/mj/submit/imagine", json={"prompt": f"p{n}"}) for n in range(5)]
        assert all(a.status_code == 200 and a.json()["code"] == 1 for a in answers)
        ids = {a.json()["result"] for a in answers}
        assert {t["id"] for t in call(server, "GET", "/mj/task/list").json()} == ids
    finally:
        redis_on_disk.stop()
        server.stop()


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_a_killed_worker_is_respawned_and_the_others_keep_answering(tmp_path: Path) -> None:
    server = Worker(f"sqlite:{tmp_path / 'mock.db'}", "--workers", "2", "--timing", "fast")
    try:
        first = until(lambda: len(children(server.process.pid)) == 2 and children(server.process.pid), 30)
        assert first, "serve did not start two workers"
        acked = call(server, "POST", "/mj/submit/imagine", json={"prompt": "kept"}).json()["result"]
        os.kill(first[0], signal.SIGKILL)
        # the other worker answers meanwhile, on fresh connections (a connection that the dead one had accepted
        # but not answered may be reset: that is the kill, not the server)
        answered = 0
        for _ in range(20):
            with contextlib.suppress(requests.ConnectionError):
                answered += call(server, "GET", f"/mj/task/{acked}/fetch").status_code == 200
        assert answered >= 15, answered
        respawned = until(lambda: len(set(children(server.process.pid)) - {first[0]}) == 2, 30)
        assert respawned, children(server.process.pid)
        assert server.process.poll() is None  # the server did not stop
        statuses = [call(server, "GET", f"/mj/task/{acked}/fetch").status_code for _ in range(10)]
        assert statuses == [200] * 10
    finally:
        server.stop()


def serve_exit(store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockmj", "serve", "--port", str(free_port()), "--store", store],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def written_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file written by a server that took one describe (a task with an uploaded image): written once
    for the module (a server's start and stop), each test works on its own copy (`made_store`)."""
    path = tmp_path_factory.mktemp("written") / "mock.db"
    server = Worker(f"sqlite:{path}")
    try:
        png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3"
               "A0FDAAAAAElFTkSuQmCC")
        assert call(server, "POST", "/mj/submit/describe", json={"base64": png}).json()["code"] == 1
    finally:
        server.stop()
    return path


def made_store(written: Path, folder: Path) -> Path:
    """A copy of the written store in `folder` (with SQLite's journal files, if the server left any)."""
    for part in written.parent.glob(written.name + "*"):
        shutil.copyfile(part, folder / part.name)
    return folder / written.name


def test_a_store_with_images_serves_again_after_a_restart(tmp_path: Path, written_store: Path) -> None:
    path = made_store(written_store, tmp_path)
    again = Worker(f"sqlite:{path}", "--workers", "2")
    try:
        tasks = call(again, "GET", "/mj/task/list").json()
        assert len(tasks) == 1 and tasks[0]["action"] == "DESCRIBE"
    finally:
        again.stop()


@pytest.mark.parametrize("spoil", ["record", "schema", "foreign", "pickled", "page"])
def test_a_store_this_version_cannot_serve_is_refused_at_start(tmp_path: Path, written_store: Path,
                                                                spoil: str) -> None:
    path = made_store(written_store, tmp_path)
    with sqlite3.connect(path) as db:
        if spoil == "record":
            db.execute("UPDATE records SET value = ? WHERE name LIKE 'task:%'", (pickle.dumps({"a": 1}),))
        elif spoil == "schema":
            db.execute("""UPDATE records SET value = '{"mockmj": 7, "v": null}' WHERE name LIKE 'task:%'""")
        elif spoil == "foreign":
            db.execute("CREATE TABLE users (id INTEGER)")
        elif spoil == "pickled":
            db.execute("DROP TABLE meta")  # as a store of the version that kept pickles
    if spoil == "page":
        data = bytearray(path.read_bytes())
        data[4096:8192] = os.urandom(4096)  # a page of garbage
        path.write_bytes(bytes(data))
    result = serve_exit(f"sqlite:{path}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    expected = {"record": "not a mockmj record", "schema": "schema 7", "foreign": "another application",
                "pickled": "older mockmj", "page": "mock.db"}[spoil]
    assert expected in result.stderr, result.stderr


def test_the_redis_password_is_never_printed() -> None:
    result = serve_exit("redis://:s3cretpass@127.0.0.1:1/0")
    assert result.returncode == 2
    assert "s3cretpass" not in result.stderr + result.stdout
    assert "redis://:***@127.0.0.1:1/0" in result.stderr
