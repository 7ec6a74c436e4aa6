"""Throughput, latency and memory figures for mockmj (printed, never asserted).

    python benchmarks/bench_api.py [--tasks 50000] [--requests 2000] [--threads 4]

1. submit and fetch over HTTP against a real waitress server on loopback (p50/p95/p99, requests/s);
2. fetch latency with many stored tasks, to show that a fetch does not depend on the store's size;
3. memory per stored task (tracemalloc);
4. image rendering: first download of a grid (render + encode) and a cached one.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import requests

from mockmj.config import AccountConfig, Settings
from mockmj.engine.facade import Caller
from mockmj.engine.submissions import submit as submissions
from mockmj.serve.inprocess import start_mock

HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.50):.2f} ms  p95 {pick(0.95):.2f} ms  p99 {pick(0.99):.2f} ms"


def timed_calls(call, count: int, threads: int) -> tuple[list[float], float]:
    def one(i: int) -> float:
        started = time.perf_counter()
        call(i)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = list(pool.map(one, range(count)))
    return samples, time.perf_counter() - started


def big_account() -> list[AccountConfig]:
    # upstream's 3 slots, and a queue long enough that nothing is refused: most tasks wait in NOT_START
    return [AccountConfig(core_size=3, queue_size=10_000_000)]


def http_figures(count: int, threads: int) -> None:
    server = start_mock(settings=Settings(timing="fast", seed=1, accounts=big_account()))
    session = requests.Session()
    ids: list[str] = []

    def submit(i: int) -> None:
        r = session.post(server.base_url + "/mj/submit/imagine", json={"prompt": f"bench {i} --ar 3:2"},
                         headers=HEADERS, timeout=30)
        ids.append(r.json()["result"])

    samples, wall = timed_calls(submit, count, threads)
    print(f"submit  x{count} ({threads} threads): {count / wall:7.0f} req/s  {percentiles(samples)}")

    def fetch(i: int) -> None:
        session.get(f"{server.base_url}/mj/task/{ids[i % len(ids)]}/fetch", headers=HEADERS, timeout=30)

    samples, wall = timed_calls(fetch, count, threads)
    print(f"fetch   x{count} ({threads} threads): {count / wall:7.0f} req/s  {percentiles(samples)}")
    server.stop()


def scale_figures(tasks: int) -> None:
    for stored in (1_000, tasks):
        server = start_mock(settings=Settings(timing="fast", seed=2, accounts=big_account()))
        engine = server.mock.engine
        caller = Caller(key="bench", origin=server.base_url)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        started = time.perf_counter()
        last = ""
        for i in range(stored):
            last = submissions.imagine(engine, caller, {"prompt": f"stored {i}"}).result
        created = time.perf_counter() - started
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        session = requests.Session()
        samples = []
        for _ in range(500):
            t = time.perf_counter()
            session.get(f"{server.base_url}/mj/task/{last}/fetch", headers=HEADERS, timeout=30)
            samples.append(time.perf_counter() - t)
        print(f"{stored:>7} stored tasks: created in-process at {stored / created:7.0f}/s, "
              f"{grown / stored:6.0f} bytes/task; fetch {percentiles(samples)}")
        server.stop()


def image_figures() -> None:
    server = start_mock(settings=Settings(timing="per-poll", seed=3))
    session = requests.Session()
    firsts, cached = [], []
    for i in range(10):
        task_id = session.post(server.base_url + "/mj/submit/imagine", json={"prompt": f"image {i}"},
                               headers=HEADERS).json()["result"]
        task = {}
        for _ in range(12):
            task = session.get(f"{server.base_url}/mj/task/{task_id}/fetch", headers=HEADERS).json()
        url = task["imageUrl"]
        t = time.perf_counter()
        size = len(session.get(url).content)
        firsts.append(time.perf_counter() - t)
        t = time.perf_counter()
        session.get(url)
        cached.append(time.perf_counter() - t)
    print(f"grid image ({size // 1024} KiB PNG): first download {statistics.median(firsts) * 1000:.1f} ms "
          f"(render + encode), cached {statistics.median(cached) * 1000:.1f} ms (medians of 10)")
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    http_figures(args.requests, args.threads)
    scale_figures(args.tasks)
    image_figures()


if __name__ == "__main__":
    main()
