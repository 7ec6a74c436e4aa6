"""The logs of `mockmj serve`: the start-up line first (naming the URL), one access line per request
(text or JSON lines), nothing with --quiet, task state changes at debug level; keys always masked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from mockmj.model.masking import masked
from tests.helpers import free_port

KEY = "sk-secret-key-123456"
FETCHES = 300  # requests answered just before the stop, each owed one access line


@pytest.fixture
def launch() -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str) -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--port", str(port), *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(base + "/_mockmj/health", timeout=1)
                return process, base
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process: subprocess.Popen[str]) -> list[str]:
    process.terminate()
    _, err = process.communicate(timeout=10)
    return err.splitlines()


def traffic(base: str) -> str:
    """A few requests: a health probe (while waiting), a submit, a fetch, an unknown path."""
    headers = {"Authorization": f"Bearer {KEY}"}
    task_id = requests.post(base + "/mj/submit/imagine", json={"prompt": "Cat"}, headers=headers, timeout=5).json()
    requests.get(f"{base}/mj/task/{task_id['result']}/fetch", headers=headers, timeout=5)
    requests.post(base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=5)
    requests.get(f"{base}/mj/task/{task_id['result']}/fetch", headers=headers, timeout=5)
    requests.get(base + "/mj/nothing-here", headers=headers, timeout=5)
    return str(task_id["result"])


def test_json_lines_one_per_request(launch) -> None:  # type: ignore[no-untyped-def]
    process, base = launch("--log-format", "json", "--timing", "manual", "--log-level", "debug")
    task_id = traffic(base)
    raw = stop(process)
    lines = [json.loads(line) for line in raw]  # every line is JSON, the stopping line too
    assert lines[0]["url"] == base and base in lines[0]["message"]  # the start-up line, first
    assert lines[-1]["message"] == "mockmj: stopping"
    access = [line for line in lines if line["logger"] == "mockmj.access"]
    shapes = [(a["method"], a["path"], a["status"], a["code"]) for a in access]
    assert shapes == [  # the control plane's health probes and clock move are left out by default
        ("POST", "/mj/submit/imagine", 200, 1),
        ("GET", f"/mj/task/{task_id}/fetch", 200, None),
        ("GET", f"/mj/task/{task_id}/fetch", 200, None),
        ("GET", "/mj/nothing-here", 404, 404),
    ]
    submit = access[0]
    assert submit["taskId"] == task_id and isinstance(submit["ms"], float)
    assert submit["client"] == "127.0.0.1" and submit["userAgent"].startswith("python-requests/")
    assert submit["key"] == masked(KEY) == "sk-s…3456"
    assert all(KEY not in json.dumps(line) for line in lines)
    states = [line["message"] for line in lines if line["logger"] == "mockmj.tasks"]
    assert any("planned: SUBMITTED" in s for s in states), states
    assert f"task {task_id}: (first read) → NOT_START 0%" in states  # 88api: "0%" before the start
    assert f"task {task_id}: NOT_START 0% → SUCCESS 100%" in states


def test_text_lines_and_quiet(launch) -> None:  # type: ignore[no-untyped-def]
    process, base = launch("--timing", "manual")
    task_id = traffic(base)
    lines = stop(process)
    assert base in lines[0] and "dashboard" in lines[0]
    fetches = [line for line in lines if f"GET /mj/task/{task_id}/fetch 200" in line]
    assert len(fetches) == 2 and all(f"task={task_id}" in line and "key=sk-s…3456" in line for line in fetches)
    assert not any("mockmj.tasks" in line for line in lines)  # debug only

    process, base = launch("--quiet")
    traffic(base)
    lines = stop(process)
    assert base in lines[0]
    assert not any("mockmj.access" in line for line in lines), lines



@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_writes_every_line(launch, signum: int) -> None:  # type: ignore[no-untyped-def]
    """The lines are written by a thread of each worker: whatever is still queued when the stop comes is
    written before the worker ends, one line per request answered, and the stop itself does not hang."""
    process, base = launch("--timing", "manual", "--workers", "1")
    headers = {"Authorization": f"Bearer {KEY}"}
    with requests.Session() as session:
        task_id = session.post(base + "/mj/submit/imagine", json={"prompt": "Cat"}, headers=headers,
                               timeout=5).json()["result"]
        session.post(base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=5)
        answers = [session.get(f"{base}/mj/task/{task_id}/fetch", headers=headers, timeout=5).status_code
                   for _ in range(FETCHES)]
    assert answers == [200] * FETCHES
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)  # a hung stop fails here
    lines = err.splitlines()
    assert len([line for line in lines if f"GET /mj/task/{task_id}/fetch 200" in line]) == FETCHES
    assert lines[-1] == "mockmj: stopping"
    assert process.returncode == 0


def test_control_calls_logged_with_log_control(launch) -> None:  # type: ignore[no-untyped-def]
    process, base = launch("--log-format", "json", "--timing", "manual", "--log-control")
    task_id = traffic(base)
    requests.get(base + "/_mockmj/ui", headers={"User-Agent": "a browser"}, timeout=5)
    access = [json.loads(line) for line in stop(process)]
    paths = [a["path"] for a in access if a["logger"] == "mockmj.access"]
    assert "/_mockmj/health" in paths and "/_mockmj/clock/advance" in paths and f"/mj/task/{task_id}/fetch" in paths
    (page,) = [a for a in access if a.get("path") == "/_mockmj/ui"]
    assert page["userAgent"] == "a browser" and page["client"] == "127.0.0.1"
