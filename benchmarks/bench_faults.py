"""Faults under load (figures printed, never asserted). Loopback only, bounded in count and time.

    python benchmarks/bench_faults.py [--clients 32] [--seconds 60] [--stores sqlite,redis]

For each shared store, `mockmj serve --workers 2 --timing fast` takes `--clients` threads that each submit an
imagine with a notifyHook, poll it to a terminal status (new connection per request, so both workers serve), and
start again, for `--seconds`, while faults are injected on a schedule:

- both stores: kill -9 of one worker (granian respawns it);
- redis: the redis-server paused (SIGSTOP) for 3 s, then stopped (SIGTERM, append-only file) for 5 s and started;
- sqlite: another process holding SQLite's write lock for 3 s.

Afterwards every acknowledged task is fetched again. Printed per store: requests, acknowledged tasks, lost (an
acknowledged task that is gone or never finishes), duplicated ids, 5xx outside the outage windows, 503 inside them
(with or without the dialect's envelope), transport errors (connections the killed worker held), callbacks
received, tasks whose callbacks arrived out of milestone order, tasks whose last callback is not the terminal one,
tasks with no terminal callback, and the time the mock took to answer 200 again after each fault.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from bench_compare import free_port  # a sibling script, not a package

from mockmj.engine.callbacks.delivery import LEASE_S

ORDER = {"SUBMITTED": 1, "IN_PROGRESS": 3, "SUCCESS": 4, "FAILURE": 4, "CANCEL": 4}
TERMINAL = {"SUCCESS", "FAILURE", "CANCEL"}
SETTLE_QUIET_S, SETTLE_MAX_S = 5.0, 100.0  # after the run: until no callback arrived for this long, at most that


def order(payload: dict[str, Any]) -> float:
    value = float(ORDER.get(payload.get("status", ""), 0))
    if payload.get("status") == "IN_PROGRESS" and payload.get("progress"):
        value += int(str(payload["progress"]).rstrip("%")) / 100
    return value


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with receiver.lock:
                    receiver.arrivals[body.get("id", "")].append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default 5 resets connections under load: callbacks lost by the receiver

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Redis:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


class Run:
    def __init__(self, base: str, hook: str, seconds: float) -> None:
        self.base, self.hook, self.seconds = base, hook, seconds
        self.lock = threading.Lock()
        self.acked: list[tuple[str, str]] = []  # (key, task id)
        self.statuses: Counter[int] = Counter()
        self.errors_5xx: list[tuple[float, int, bool]] = []  # (time, status, envelope)
        self.transport = 0
        self.windows: list[tuple[float, float, str]] = []  # outage windows (start, end, what)
        self.recovery: list[tuple[str, float]] = []
        self.started = time.monotonic()

    def call(self, method: str, path: str, key: str = "bench-0", **kw: Any) -> requests.Response | None:
        try:
            with requests.Session() as fresh:
                answer = fresh.request(method, self.base + path, headers={"Authorization": f"Bearer {key}"},
                                       timeout=60, **kw)
        except requests.RequestException:
            with self.lock:
                self.transport += 1
            return None
        with self.lock:
            self.statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                enveloped = answer.headers.get("Content-Type", "").startswith("application/json")
                self.errors_5xx.append((time.monotonic(), answer.status_code, enveloped))
        return answer

    def client(self, key: str) -> None:
        """One client with its own key (a tenant of its own, as the clients of a team sharing a mock)."""
        end = self.started + self.seconds
        while time.monotonic() < end:
            answer = self.call("POST", "/mj/submit/imagine", key, json={"prompt": "a gull", "notifyHook": self.hook})
            if answer is None or answer.status_code != 200 or answer.json().get("code") != 1:
                time.sleep(0.2)
                continue
            task_id = answer.json()["result"]
            with self.lock:
                self.acked.append((key, task_id))
            poll_end = time.monotonic() + 15
            while time.monotonic() < min(poll_end, end):
                seen = self.call("GET", f"/mj/task/{task_id}/fetch", key)
                if seen is not None and seen.status_code == 200 and seen.json().get("status") in TERMINAL:
                    break
                time.sleep(0.2)

    def healthy_again(self, what: str, since: float) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = self.call("GET", "/_mockmj/health")
            if answer is not None and answer.status_code == 200:
                self.recovery.append((what, time.monotonic() - since))
                return
            time.sleep(0.1)
        self.recovery.append((what, float("inf")))

    def outage(self, what: str, start: float, end: float) -> None:
        self.windows.append((start, end + 2.0, what))  # answers already in flight when it ended count as inside


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def inject(run: Run, store: str, serve: subprocess.Popen[str], redis: Redis | None, db: Path | None) -> None:
    at = run.started

    def wait_until(offset: float) -> None:
        time.sleep(max(0.0, at + offset - time.monotonic()))

    span = run.seconds
    wait_until(span * 0.2)
    victims = children(serve.pid)
    if victims:
        t = time.monotonic()
        os.kill(victims[0], signal.SIGKILL)
        run.outage("kill -9 of one worker", t, t + 1.0)
        run.healthy_again("kill -9 of one worker", t)
    if redis is not None:
        wait_until(span * 0.4)
        t = time.monotonic()
        redis.signal(signal.SIGSTOP)
        time.sleep(3)
        redis.signal(signal.SIGCONT)
        run.outage("redis paused 3 s", t, time.monotonic())
        run.healthy_again("redis paused 3 s", time.monotonic())
        wait_until(span * 0.6)
        t = time.monotonic()
        redis.stop()
        time.sleep(5)
        redis.start()
        run.outage("redis stopped 5 s", t, time.monotonic())
        run.healthy_again("redis stopped 5 s", time.monotonic())
    if db is not None:
        wait_until(span * 0.5)
        t = time.monotonic()
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(3)
        holder.execute("COMMIT")
        holder.close()
        run.outage("sqlite write lock held 3 s", t, time.monotonic())
        run.healthy_again("sqlite write lock held 3 s", time.monotonic())


def bench(store_kind: str, clients: int, seconds: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mockmj-faults-"))
    redis = Redis(folder) if store_kind == "redis" else None
    db = folder / "mock.db" if store_kind == "sqlite" else None
    store = redis.url if redis is not None else f"sqlite:{db}"
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--port", str(port), "--workers", "2",
                              "--timing", "fast", "--store", store, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=(folder / "serve.log").open("w"), text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/_mockmj/health", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or serve.poll() is not None:
                    raise RuntimeError("mockmj serve did not start") from None
                time.sleep(0.2)
        requests.patch(base + "/_mockmj/accounts/1118138338562560102", json={"coreSize": 100, "queueSize": 100},
                       timeout=30).raise_for_status()
        receiver = Receiver()
        run = Run(base, receiver.url, seconds)
        threads = [threading.Thread(target=run.client, args=(f"bench-{n}",), daemon=True) for n in range(clients)]
        faults = threading.Thread(target=inject, args=(run, store_kind, serve, redis, db), daemon=True)
        for thread in [*threads, faults]:
            thread.start()
        for thread in [*threads, faults]:
            thread.join(timeout=seconds + 180)
        # the last tasks finish, and what the killed worker had claimed is claimed again once its lease runs out
        killed = [start for start, _, what in run.windows if what.startswith("kill")]
        settle(receiver, not_before=(killed[0] + LEASE_S + 2) if killed else 0.0)
        report(store_kind, run, receiver, serve)
        print(f"server log: {folder / 'serve.log'}")
    finally:
        stop_serve(serve)
        if redis is not None:
            redis.stop()


def stop_serve(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Stop `mockmj serve` as a terminal would (SIGTERM: its workers stop cleanly), killed if not gone in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def settle(receiver: Receiver, not_before: float) -> None:
    started = time.monotonic()
    last, count = started, -1
    while time.monotonic() - started < SETTLE_MAX_S and (time.monotonic() - last < SETTLE_QUIET_S
                                                         or time.monotonic() < not_before):
        with receiver.lock:
            now_count = sum(len(v) for v in receiver.arrivals.values())
        if now_count != count:
            count, last = now_count, time.monotonic()
        time.sleep(0.5)
    print(f"(callbacks settled {time.monotonic() - started:.0f} s after the run)")


def report(store_kind: str, run: Run, receiver: Receiver, serve: subprocess.Popen[str]) -> None:
    ids = [task_id for _, task_id in run.acked]
    lost = 0
    for key, task_id in run.acked:
        answer = run.call("GET", f"/mj/task/{task_id}/fetch", key)
        if answer is None or answer.status_code != 200 or answer.json().get("status") not in TERMINAL:
            lost += 1
    inside = [e for e in run.errors_5xx if any(s <= e[0] <= end for s, end, _ in run.windows)]
    outside = [e for e in run.errors_5xx if e not in inside]
    with receiver.lock:
        arrivals = {k: list(v) for k, v in receiver.arrivals.items()}
    backwards = sum(1 for got in arrivals.values()
                    if any(order(b) < order(a) for a, b in itertools.pairwise(got)))
    last_not_terminal = sum(1 for got in arrivals.values() if got and got[-1].get("status") not in TERMINAL
                            and any(p.get("status") in TERMINAL for p in got))
    no_terminal = sum(1 for task_id in ids if not any(p.get("status") in TERMINAL for p in arrivals.get(task_id, [])))
    twice = sum(1 for got in arrivals.values() if sum(p.get("status") in TERMINAL for p in got) > 1)
    print(f"\n== {store_kind}, 2 workers, {run.seconds:.0f} s")
    print(f"requests {sum(run.statuses.values())}; statuses {dict(sorted(run.statuses.items()))}; "
          f"transport errors {run.transport}")
    print(f"acknowledged {len(ids)}; lost {lost}; duplicated ids {len(ids) - len(set(ids))}")
    print(f"5xx outside outage windows {len(outside)} {Counter(s for _, s, _ in outside)}; inside "
          f"{len(inside)} {Counter(s for _, s, _ in inside)}, without a JSON envelope "
          f"{sum(1 for *_, env in inside + outside if not env)}")
    print(f"callbacks {sum(len(v) for v in arrivals.values())} for {len(arrivals)} tasks; out of order "
          f"{backwards}; last one not terminal {last_not_terminal}; acknowledged tasks with no terminal callback "
          f"{no_terminal}; with two {twice}")
    for what, seconds in run.recovery:
        print(f"  {what}: health 200 again {seconds:.2f} s after")
    print(f"server still running: {serve.poll() is None}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args()
    for kind in args.stores.split(","):
        bench(kind, args.clients, args.seconds)


if __name__ == "__main__":
    main()
