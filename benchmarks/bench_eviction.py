"""What a submission costs once the memory store is at `max_tasks` (printed, never asserted).

    python benchmarks/bench_eviction.py [--tasks 100000] [--submits 3000]

Fills a mock (memory store, called as a WSGI app, no server) with `--tasks` finished imagine tasks (real
submissions through the engine: filled_mock.fill), `max_tasks` set to that many, so that every later
submission is beyond the cap: past it the oldest finished tasks are forgotten, a batch at a time, and most of
them are packed (unpacked to be removed). Then times `--submits`
submissions one by one, the clock moved now and then so that they finish too, and prints the median, the 99th
percentile, the mean and the slowest: a batch shows among the slowest submissions (so does a full garbage
collection, whose count is printed), the whole work in the mean.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_wsgi import IMAGINE, call, environ
from filled_mock import CLOCK_JUMP_MS, KEY, fill

from mockmj.config import AccountConfig, Settings
from mockmj.engine.facade import Caller
from mockmj.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--submits", type=int, default=3_000)
    args = parser.parse_args()
    settings = Settings(timing="manual", seed=1, default_balance=10**12, max_tasks=args.tasks,
                        accounts=[AccountConfig(queue_size=10**8)])
    app = create_app(settings)
    engine = app.extensions["mockmj"].engine
    try:
        started = time.perf_counter()
        fill(engine, Caller(key=KEY, origin="http://127.0.0.1:8080"), args.tasks, "engine")  # real submissions
        print(f"filled with {args.tasks:,} finished tasks in {time.perf_counter() - started:.0f} s")
        call(app, environ("POST", "/mj/submit/imagine", IMAGINE))  # untimed: the first loads the body's validator
        took = []
        collections = gc.get_stats()[2]["collections"]
        for n in range(args.submits):
            before = time.perf_counter()
            status, _ = call(app, environ("POST", "/mj/submit/imagine", IMAGINE))
            took.append((time.perf_counter() - before) * 1000)
            assert status == "200 OK", status
            if n % 100 == 99:
                engine.advance(CLOCK_JUMP_MS)
        collections = gc.get_stats()[2]["collections"] - collections  # each one can be the slowest submission
        took.sort()
        slowest = ", ".join(f"{ms:.1f}" for ms in took[:-9:-1])
        print(f"{args.submits:,} submissions at the cap: median {statistics.median(took):.2f} ms, "
              f"p99 {took[int(0.99 * (len(took) - 1))]:.2f} ms, mean {statistics.fmean(took):.3f} ms; "
              f"the 8 slowest {slowest} ms; {collections:,} full garbage collections meanwhile; "
              f"tasks held now {engine.task_count():,}")
    finally:
        app.extensions["mockmj"].callbacks.stop()


if __name__ == "__main__":
    main()
