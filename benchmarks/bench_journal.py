"""The request journal's own cost on the memory store: recording one request, and reading the journal back
(printed, never asserted).

    python benchmarks/bench_journal.py [--entries 1000] [--calls 20000]

Records entries shaped like those of an API request (request and response headers, a short body), then
times `query` of the whole journal and of one tenant's entries, as the control plane and the dashboard ask,
and `GET /_mockmj/requests` of a full journal through the app (WSGI calls, no socket: the whole control call,
masking and JSON included). Each figure is the second best of seven runs, so that a busy machine shows less.
The same script runs against any version of mockmj that has `Journal(size, max_bytes)`, to compare two.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_wsgi import call, environ

from mockmj.config import Settings
from mockmj.engine.journal import Journal
from mockmj.web.app import create_app


def entry(n: int) -> dict[str, object]:
    return {
        "time": 1_700_000_000_000 + n, "method": "GET", "path": f"/mj/task/{n:019d}/fetch",
        "operationId": "fetchTask", "key": f"tenant-{n % 4}", "status": 200, "code": None, "billable": False,
        "latencyMs": 0.05, "body": "", "refused": False,
        "requestHeaders": {"Host": "127.0.0.1:8080", "Authorization": "Bearer te…-1", "Accept": "*/*"},
        "responseHeaders": {"Content-Type": "application/json", "Content-Length": "1234"},
        "responseBody": '{"id":"1","status":"SUCCESS","progress":"100%"}', "rule": None, "taskId": str(n),
    }


def best(run: Callable[[], None], repeat: int) -> float:
    """µs per call: the second best of seven runs of `repeat` calls."""
    times = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(repeat):
            run()
        times.append((time.perf_counter() - started) / repeat * 1e6)
    return sorted(times)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1000, help="the journal's size (the default setting)")
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    journal = Journal(args.entries)
    entries = [entry(n) for n in range(args.calls)]
    position = iter(range(10**9))

    def record() -> None:
        journal.record(entries[next(position) % len(entries)])

    recorded = best(record, args.calls // 7)
    whole = best(lambda: journal.query({}), 50)
    tenant = best(lambda: journal.query({"key": "tenant-1"}, limit=50), 50)
    print(f"record one entry          {recorded:8.2f} µs")
    print(f"query all {len(journal):5d} entries   {whole:8.1f} µs")
    print(f"query one tenant, last 50 {tenant:8.1f} µs")
    control(args.entries)


def control(size: int) -> None:
    """The control plane's read of a full journal, through the app."""
    app = create_app(Settings(timing="manual", seed=1, journal_size=size))
    try:
        for n in range(size):
            call(app, environ("GET", f"/mj/task/{n}/fetch"))  # 404s: an entry each, with headers
        listed = best(lambda: call(app, environ("GET", "/_mockmj/requests")), 20)
        print(f"GET /_mockmj/requests     {listed:8.1f} µs  ({size} entries)")
    finally:
        app.extensions["mockmj"].callbacks.stop()


if __name__ == "__main__":
    main()
