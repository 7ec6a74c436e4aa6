"""Figures under hostile input (printed, never asserted). Loopback only, bounded in count and time.

    python benchmarks/bench_hostile.py [--part images|idle|callbacks|tasks] [--tasks 100000]

1. images: 12 concurrent /mj/submit/describe calls, each carrying the largest image accepted (a PNG
   of MAX_PIXELS in RGBA), against a real `mockmj serve` subprocess: its peak RSS and its RSS after;
2. idle: 500 TCP connections held open against `mockmj serve` without sending a byte, then the
   latency of fetches on fresh connections;
3. callbacks: two tenants, A's notifyHook receiver sleeps 30 s per request; the delay of tenant B's
   callbacks after they fell due, in real time (`fast`) and in `manual` timing (after clock/advance);
4. tasks: the RSS that 100,000 finished tasks take in the engine (in-process).

RSS is read from /proc/<pid>/status (VmRSS; VmHWM for the peak), summed over `mockmj serve` and its granian
worker, so this runs on Linux only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import io
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from PIL import Image

from mockmj.config import AccountConfig, Settings
from mockmj.engine.facade import Caller, Engine
from mockmj.engine.submissions import submit as submissions
from mockmj.media.image_input import MAX_PIXELS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers import Receiver, free_port  # the receiver the tests use, on loopback

MB = 1024 * 1024


def tree(pid: int) -> list[int]:
    """The process and all its descendants: `mockmj serve` is granian's supervisor, the app runs in a worker."""
    found, i = [pid], 0
    while i < len(found):
        for task in os.listdir(f"/proc/{found[i]}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{found[i]}/task/{task}/children") as children:
                found += [int(child) for child in children.read().split()]
        i += 1
    return found


def tree_status(pid: int, field: str) -> int:
    """A VmXXX figure summed over the process tree (a process gone meanwhile counts nothing)."""
    total = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            total += proc_status(member, field)
    return total


def proc_status(pid: int | str, field: str) -> int:
    """A VmXXX figure of /proc/<pid>/status, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


@contextmanager
def serve(*options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `mockmj serve` in a subprocess on a free loopback port: (process, base URL)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mockmj", "serve", "--port", str(port), "--seed", "1",
                                *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/_mockmj/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("mockmj serve did not start")
            time.sleep(0.1)
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ------------------------------------------------------------------------------------ 1. images
def largest_png() -> str:
    side = math.isqrt(MAX_PIXELS)
    buffer = io.BytesIO()
    Image.new("RGBA", (side, side), (120, 60, 200, 255)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_figures(count: int = 12) -> None:
    data_url = largest_png()
    side = math.isqrt(MAX_PIXELS)
    with serve() as (process, base):
        before = tree_status(process.pid, "VmRSS")
        peak_seen = [before]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak_seen[0] = max(peak_seen[0], tree_status(process.pid, "VmRSS"))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()

        def submit(i: int) -> int:
            r = requests.post(base + "/mj/submit/describe", json={"base64": data_url}, headers=headers(f"img{i}"),
                              timeout=300)
            return int(r.json().get("code", 0)) if r.ok else -r.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            codes = list(pool.map(submit, range(count)))
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        peak = max(peak_seen[0], tree_status(process.pid, "VmHWM"))
        time.sleep(2)
        after = tree_status(process.pid, "VmRSS")
    accepted = sum(code == 1 for code in codes)
    print(f"images: {count} concurrent describes of a {side}x{side} RGBA PNG ({len(data_url) // 1024} KiB "
          f"as base64): {accepted}/{count} accepted in {wall:.1f} s; RSS before {before / MB:.0f} MB, "
          f"peak {peak / MB:.0f} MB, 2 s after {after / MB:.0f} MB")


# ------------------------------------------------------------------------------------ 2. idle
def idle_figures(idle: int = 500, fetches: int = 20) -> None:
    with serve() as (_, base):
        port = int(base.rsplit(":", 1)[1])
        task_id = requests.post(base + "/mj/submit/imagine", json={"prompt": "idle"}, headers=headers("idle"),
                                timeout=10).json()["result"]
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(idle)]
        time.sleep(0.5)
        samples, failures = [], 0
        for _ in range(fetches):
            started = time.perf_counter()
            try:
                requests.get(f"{base}/mj/task/{task_id}/fetch", headers=headers("idle"), timeout=10)
                samples.append(time.perf_counter() - started)
            except requests.RequestException:
                failures += 1
                if failures >= 3:
                    break  # starved: more tries would only take longer
        for sock in sockets:
            sock.close()
    if samples:
        print(f"idle: with {idle} idle connections open, {len(samples)}/{fetches} fetches answered: "
              f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"
              + (f"; {failures} timed out after 10 s" if failures else ""))
    else:
        print(f"idle: with {idle} idle connections open, no fetch was answered within 10 s")


# ------------------------------------------------------------------------------------ 3. callbacks
def submit_hooked(base: str, key: str, hook: str, count: int) -> list[str]:
    """Submit `count` imagines with this hook; the ids of those accepted (the account queues 3 + 10)."""
    answers = [requests.post(base + "/mj/submit/imagine", json={"prompt": f"{key} {i}", "notifyHook": hook},
                             headers=headers(key), timeout=10).json() for i in range(count)]
    return [a["result"] for a in answers if a.get("code") in (1, 22)]


def wait_finals(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(p["status"] in ("SUCCESS", "FAILURE") for p in receiver.payloads()) >= count:
            return
        time.sleep(0.05)


def callback_figures(slow_seconds: float) -> None:
    slow, quick = Receiver(hold=True, hold_seconds=slow_seconds), Receiver()
    with serve("--timing", "fast") as (_, base):
        submit_hooked(base, "tenant-a", slow.url, 9)  # ~45 callbacks, each held 30 s
        time.sleep(0.5)
        b_tasks = len(submit_hooked(base, "tenant-b", quick.url, 4))
        wait_finals(quick, b_tasks, timeout=30)
        arrivals = [(call.wall_ms, call.payload) for call in quick.calls]
        delays = [arrived - (p["finishTime"] if p["status"] in ("SUCCESS", "FAILURE") else p["startTime"])
                  for arrived, p in arrivals if p["status"] in ("SUBMITTED", "SUCCESS", "FAILURE")]
    if delays:
        print(f"callbacks (fast): A's receiver sleeps {slow_seconds:.0f} s per request; B's {len(delays)} "
              f"SUBMITTED/SUCCESS callbacks came median {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms "
              "after falling due")
    else:
        print(f"callbacks (fast): B received nothing within 30 s while A's receiver slept {slow_seconds:.0f} s")
    quick.calls.clear()
    with serve("--timing", "manual") as (_, base):
        submit_hooked(base, "tenant-a", slow.url, 3)
        submit_hooked(base, "tenant-b", quick.url, 1)
        started = time.time() * 1000
        threading.Thread(target=lambda: requests.post(base + "/_mockmj/clock/advance", json={"seconds": 60},
                                                      timeout=120), daemon=True).start()
        wait_finals(quick, 1, timeout=30)
        late = [call.wall_ms - started for call in quick.calls]
    if late:
        print(f"callbacks (manual): B's {len(late)} callbacks all arrived within {max(late):.0f} ms of "
              "clock/advance, while A's receiver slept")
    else:
        print("callbacks (manual): B received nothing within 30 s of clock/advance")
    slow.close()
    quick.close()


# ------------------------------------------------------------------------------------ 4. tasks
def task_figures(count: int) -> None:
    engine = Engine(Settings(timing="manual", seed=4, accounts=[AccountConfig(core_size=3, queue_size=10**8)]))
    caller = Caller(key="bench", origin="http://127.0.0.1:8080")
    gc.collect()
    before = proc_status("self", "VmRSS")
    started = time.perf_counter()
    ids = []
    for i in range(count):
        # each request brings its own copies of the key and the base URL, as over HTTP
        fresh = Caller(key="".join(("ben", "ch")), origin="".join(("http://127.0.0.1", ":8080")))
        ids.append(submissions.imagine(engine, fresh, {"prompt": f"a lighthouse {i} --ar 3:2"}).result)
        engine.advance(1)  # time moves as it would in real time (ids, schedules)
    engine.advance(10**10)  # every task finished
    gc.collect()
    finished = proc_status("self", "VmRSS")
    for task_id in ids:
        engine.fetch(caller, task_id)
    gc.collect()
    fetched = proc_status("self", "VmRSS")
    per_100k = 100_000 / count
    print(f"tasks: {count} imagine tasks created and finished in {time.perf_counter() - started:.0f} s: "
          f"RSS +{(finished - before) * per_100k / MB:.0f} MB per 100,000 finished tasks "
          f"({(finished - before) / count:.0f} B each), +{(fetched - before) * per_100k / MB:.0f} MB "
          "once each was fetched (a poll log per task)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("images", "idle", "callbacks", "tasks"), action="append")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    args = parser.parse_args()
    parts = args.part or ["images", "idle", "callbacks", "tasks"]
    if not os.path.exists("/proc/self/status"):
        raise SystemExit("bench_hostile.py reads RSS from /proc: Linux only")
    if "images" in parts:
        image_figures()
    if "idle" in parts:
        idle_figures()
    if "callbacks" in parts:
        callback_figures(args.slow_seconds)
    if "tasks" in parts:
        task_figures(args.tasks)


if __name__ == "__main__":
    main()
