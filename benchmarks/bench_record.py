"""What recording and replaying cost (printed, never asserted).

    python benchmarks/bench_record.py [--requests 500] [--threads 4]

1. fetch latency against a mock directly, through `mockmj record` (forward + validate + HAR write),
   and from `mockmj serve --replay` (a recorded answer);
2. the HAR's size per recorded exchange.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from mockmj.config import load_settings
from mockmj.record.proxy import start_recorder
from mockmj.record.replay import start_replay
from mockmj.serve.inprocess import start_mock

HEADERS = {"Authorization": "Bearer bench"}


def latency(url: str, count: int, threads: int) -> str:
    session = requests.Session()
    session.trust_env = False

    def one(_: int) -> float:
        started = time.perf_counter()
        assert session.get(url, headers=HEADERS, timeout=30).status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = sorted(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
    return (f"{count / wall:7.0f} req/s  p50 {pick(0.5):6.2f} ms  p99 {pick(0.99):6.2f} ms  "
            f"(mean {statistics.mean(samples) * 1000:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="mockmj-bench-record-"))
    target = start_mock(timing="fast", seed=1)
    recorder = start_recorder(target.base_url, out)
    task_id = requests.post(target.base_url + "/mj/submit/imagine", json={"prompt": "bench"}, headers=HEADERS,
                            timeout=30).json()["result"]
    time.sleep(1.5)  # finished: every fetch below answers the same SUCCESS task
    path = f"/mj/task/{task_id}/fetch"
    print(f"fetch, {args.threads} client threads, {args.requests} requests each row")
    print(f"  direct to the mock      {latency(target.base_url + path, args.requests, args.threads)}")
    print(f"  through mockmj record   {latency(recorder.base_url + path, args.requests, args.threads)}")
    recorder.stop()
    target.stop()
    har = out / "recording.har"
    print(f"  HAR: {args.requests} exchanges, {har.stat().st_size / args.requests / 1024:.1f} KB per exchange")
    replay = start_replay(out, load_settings(None, timing="fast"), speed=1000)
    print(f"  from serve --replay     {latency(replay.base_url + path, args.requests, args.threads)}")
    replay.stop()


if __name__ == "__main__":
    main()
