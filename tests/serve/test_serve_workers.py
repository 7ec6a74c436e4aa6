"""`mockmj serve` on granian: worker processes built from the settings resolved once, several of them only
with a shared store, a clean stop that leaves no process behind, and a taken port refused before anything
starts. Real subprocesses on loopback, every wait bounded."""

from __future__ import annotations

import functools
import importlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from mockmj.cli import main
from mockmj.config import load_settings
from mockmj.serve.granian import worker_app
from mockmj.serve.inprocess import release
from mockmj.web.logs import stop_access_log
from tests.helpers import free_port
from tests.serve.test_cli import usage_error

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 20


def shared_stores_exist() -> bool:
    """Whether the engine can open sqlite:/redis:// stores yet (mockmj/store/base.py's open_store)."""
    try:
        store = importlib.import_module("mockmj.store.base")
    except ImportError:
        return False
    return hasattr(store, "open_store")


needs_shared_store = pytest.mark.skipif(not shared_stores_exist(),
                                        reason="no shared store yet: mockmj.store.base has no open_store")


# ------------------------------------------------------------------------------------------ processes
def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc (a worker's parent is the `serve` process)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after its last ")"
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":  # a zombie has exited already
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


class Serve:
    """One `mockmj serve` subprocess: its base URL, its stderr lines read so far, its workers."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, python: list[str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = python or ["-m", "mockmj", "serve"]  # python: other arguments for the interpreter
        self.process = subprocess.Popen(
            [sys.executable, *command, "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True)  # its own process group: a Ctrl-C sent to it reaches no test process
        self.seen: set[int] = set()  # every process of this mock ever observed, for the teardown

    def wait_ready(self) -> str:
        """The first stderr line (the start-up line), once the mock answers."""
        assert self.process.stderr is not None
        first = self.process.stderr.readline()  # blocks until granian's worker accepts (or the process ends)
        assert self.process.poll() is None, (first, self.process.communicate(timeout=STOP_TIMEOUT_S))
        deadline = time.monotonic() + START_TIMEOUT_S
        while requests.get(self.base + "/_mockmj/health", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return first

    def workers(self, count: int) -> set[int]:
        """The worker processes, once `count` of them run."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(found := children_of(self.process.pid)) < count:
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
        self.seen |= found
        return found

    def stop(self, sig: int = signal.SIGTERM, group: bool = False) -> tuple[int, str]:
        """Send `sig` (to the whole process group, as a terminal's Ctrl-C does, when `group`)."""
        self.seen |= children_of(self.process.pid)
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=STOP_TIMEOUT_S)
        return self.process.returncode, err

    def kill(self) -> None:
        """Teardown: whatever still runs of this mock, by pid (workers first: they hold its pipes too)."""
        if self.process.poll() is None:
            self.seen |= children_of(self.process.pid)
        for pid in self.seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=STOP_TIMEOUT_S)


Start = Callable[..., Serve]


@pytest.fixture
def serve() -> Iterator[Start]:
    """Start `mockmj serve` with these arguments (and `env`); whatever still runs at the end is killed."""
    started: list[Serve] = []

    def start(*args: str, env: dict[str, str] | None = None, python: list[str] | None = None) -> Serve:
        started.append(Serve(*args, env=env, python=python))
        return started[-1]

    yield start
    for mock in started:
        mock.kill()


# ------------------------------------------------------------------------------------------ tests
def test_one_worker_announces_once_serves_and_stops_every_process_on_sigterm(serve: Start) -> None:
    mock = serve("--timing", "manual", "--seed", "3")
    first = mock.wait_ready()
    assert f"on {mock.base}" in first
    (worker,) = mock.workers(1)
    headers = {"Authorization": "Bearer k1"}
    task = requests.post(mock.base + "/mj/submit/imagine", json={"prompt": "Cat"}, headers=headers, timeout=5).json()
    requests.post(mock.base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=5)
    fetched = requests.get(f"{mock.base}/mj/task/{task['result']}/fetch", headers=headers, timeout=5).json()
    assert fetched["status"] == "SUCCESS"

    code, err = mock.stop(signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err and "Unexpected exit" not in err, err
    assert err.count("mockmj 88api dialect") == 0  # the start-up line was read above: printed once
    assert err.rstrip().endswith("mockmj: stopping"), err
    assert not alive(worker), "the worker outlived the stop"
    assert not children_of(mock.process.pid)


def test_the_start_up_line_comes_before_any_answer(serve: Start) -> None:
    """A client polling health as fast as it can gets its first answer only after the line is out."""
    mock = serve("--quiet")
    assert mock.process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            requests.get(mock.base + "/_mockmj/health", timeout=5)
            break
        except requests.ConnectionError:
            assert mock.process.poll() is None and time.monotonic() < deadline
    readable, _, _ = select.select([mock.process.stderr], [], [], 0)  # written before the answer was sent
    assert readable, "answered before the start-up line"
    assert f"on {mock.base}" in mock.process.stderr.readline()


def test_ctrl_c_on_the_process_group_is_a_clean_stop(serve: Start) -> None:
    """A terminal's Ctrl-C reaches the workers too; one stopping before it is told to is no failure."""
    mock = serve("--quiet")
    mock.wait_ready()
    (worker,) = mock.workers(1)
    # an idle kept-alive connection and a silent one must not hold the stop up
    session = requests.Session()
    session.get(mock.base + "/_mockmj/health", timeout=5)
    silent = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
    try:
        started = time.monotonic()
        code, err = mock.stop(signal.SIGINT, group=True)
        took = time.monotonic() - started
    finally:
        silent.close()
        session.close()
    assert code == 0, err
    assert "Traceback" not in err and "Unexpected exit" not in err, err
    assert took < 10, took
    assert not alive(worker)


def test_workers_do_not_outlive_a_killed_serve_process(serve: Start) -> None:
    """SIGKILL leaves granian no chance to stop its workers: each notices on its own and stops."""
    mock = serve("--quiet")
    mock.wait_ready()
    (worker,) = mock.workers(1)
    os.kill(mock.process.pid, signal.SIGKILL)
    mock.process.communicate(timeout=STOP_TIMEOUT_S)  # ends once the worker has closed the pipes too
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(worker):
        assert time.monotonic() < deadline, "the worker outlived its supervisor"
        time.sleep(0.05)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", mock.port))  # the port is free again


def test_more_than_one_worker_with_the_memory_store_is_a_usage_error() -> None:
    for args, env in ((["--workers", "2"], {}), ([], {"MOCKMJ_WORKERS": "2"}),
                      (["--workers", "3", "--store", "memory"], {})):
        result = CliRunner().invoke(main, ["serve", "--port", str(free_port()), *args], env=env)
        usage_error(result.exit_code, result.output)
        assert "--store sqlite:PATH" in result.output and "redis://" in result.output, result.output


def test_more_than_one_worker_is_refused_in_a_real_process_before_listening() -> None:
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "mockmj", "serve", "--port", str(port), "--workers", "2"],
                          capture_output=True, text=True, timeout=START_TIMEOUT_S)
    usage_error(done.returncode, done.stderr)
    assert "--workers 2" in done.stderr and "memory store" in done.stderr, done.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing was left listening


def test_a_taken_port_is_a_usage_error(serve: Start) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "mockmj", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=START_TIMEOUT_S)
    usage_error(done.returncode, done.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr
    assert "in use" in done.stderr
    assert done.stdout == ""


def test_a_second_mock_on_the_same_port_is_refused(serve: Start) -> None:
    """granian binds each worker with SO_REUSEPORT; a second `serve` of the same user must still not share
    the port (the kernel would hand it half the first one's clients)."""
    first = serve("--quiet")
    first.wait_ready()
    done = subprocess.run([sys.executable, "-m", "mockmj", "serve", "--port", str(first.port)],
                          capture_output=True, text=True, timeout=START_TIMEOUT_S)
    usage_error(done.returncode, done.stderr)
    assert f"cannot listen on 127.0.0.1:{first.port}" in done.stderr, done.stderr
    assert requests.get(first.base + "/_mockmj/health", timeout=5).status_code == 200


def test_workers_get_the_settings_of_every_source(serve: Start, tmp_path: Path) -> None:
    """File, environment and command line are resolved once, in `serve`; the worker runs with the result."""
    config = tmp_path / "mockmj.toml"
    config.write_text("default_balance = 777\ntiming = \"per-poll\"\n", encoding="utf-8")
    mock = serve("--config", str(config), "--timing", "manual", env={"MOCKMJ_DIALECT": "proxy"})
    mock.wait_ready()
    health = requests.get(mock.base + "/_mockmj/health", timeout=5).json()
    assert (health["dialect"], health["timing"]) == ("proxy", "manual")  # environment, then command line
    assert requests.get(mock.base + "/_mockmj/keys/anyone", timeout=5).json()["balance"] == 777  # the file


def test_the_worker_factory_builds_from_the_settings_it_is_given() -> None:
    settings = load_settings(None, dialect="proxy", timing="manual", seed=11, default_balance=5)
    # what a spawned worker receives: the loader with its settings, pickled
    loader = pickle.loads(pickle.dumps(functools.partial(worker_app, settings)))
    app = loader()
    try:
        assert app.extensions["mockmj"].settings == settings
        health = app.test_client().get("/_mockmj/health").get_json()
        assert (health["dialect"], health["timing"]) == ("proxy", "manual")
    finally:
        release(app)
        stop_access_log()  # as a worker's shutdown: later tests of this process log synchronously again


# `mockmj serve` with its settings check told to let several workers share nothing: the processes alone
# (start-up line once, every worker stopped), whatever the stores can do.
UNSHARED_WORKERS = """
import sys
import mockmj.config as config
check = config.Settings.check
def check_as_one_worker(self):
    workers, self.workers = self.workers, 1
    try:
        check(self)
    finally:
        self.workers = workers
config.Settings.check = check_as_one_worker
from mockmj.cli import main
main(["serve", *sys.argv[1:]])
"""


def test_two_workers_announce_once_and_stop_together(serve: Start) -> None:
    mock = serve("--workers", "2", "--quiet", "--log-format", "json", python=["-c", UNSHARED_WORKERS])
    first = mock.wait_ready()
    assert f"on {mock.base}" in first and '"event": "listening"' in first
    workers = mock.workers(2)
    for _ in range(10):  # fresh connections, spread over both workers
        with requests.Session() as fresh:
            assert fresh.get(mock.base + "/_mockmj/health", timeout=5).status_code == 200
    code, err = mock.stop(signal.SIGTERM)
    assert code == 0, err
    assert "listening" not in err, err  # once, not once per worker
    assert [json.loads(line)["message"] for line in err.splitlines()] == ["mockmj: stopping"], err
    assert not any(alive(pid) for pid in workers), "a worker outlived the stop"


@needs_shared_store
def test_two_workers_share_a_sqlite_store(serve: Start, tmp_path: Path) -> None:
    mock = serve("--workers", "2", "--store", f"sqlite:{tmp_path / 'mock.db'}", "--timing", "manual", "--quiet")
    first = mock.wait_ready()
    assert f"on {mock.base}" in first
    workers = mock.workers(2)
    assert len(workers) == 2
    headers = {"Authorization": "Bearer shared"}
    task = requests.post(mock.base + "/mj/submit/imagine", json={"prompt": "Cat"}, headers=headers, timeout=5).json()
    assert task["code"] == 1, task
    requests.post(mock.base + "/_mockmj/clock/advance", json={"seconds": 60}, timeout=5)
    # a fresh connection each time: the kernel spreads them over both workers, and each must know the task
    for _ in range(30):
        with requests.Session() as fresh:
            answer = fresh.get(f"{mock.base}/mj/task/{task['result']}/fetch", headers=headers, timeout=5)
        assert answer.status_code == 200 and answer.json()["status"] == "SUCCESS", answer.text

    code, err = mock.stop(signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert "mockmj 88api dialect" not in err  # the start-up line (read above) is printed once, not once per worker
    assert not any(alive(pid) for pid in workers), "a worker outlived the stop"
    assert not children_of(mock.process.pid)
