"""mockmj's own cost per request, without a server or sockets: WSGI calls in a loop (printed, never asserted).

    python benchmarks/bench_wsgi.py [--calls 14000] [--access-log] [--profile fetch|submit]

Times a fetch of a finished task and a submit imagine called straight on the app, beside a bare WSGI
callable and the Flask "hello" of hello_app.py answering the same bytes: what is left is mockmj's own work.
`--access-log` turns the access log on as `mockmj serve` does (its thread writes to /dev/null);
`--profile` prints cProfile's top entries for one of the two instead. Each figure is the second best of
seven runs, so that a busy machine shows less.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hello_app import bare_app, hello_app

from mockmj.config import AccountConfig, Settings
from mockmj.web.app import create_app
from mockmj.web.logs import configure_logging, defer_access_log

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
IMAGINE = b'{"prompt":"a red fox in the snow --ar 3:2"}'


PROCESS_ENVIRONMENT = dict(os.environ)


def environ(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    """What granian hands the app for a request from a client on loopback: its WSGI environ starts from a copy
    of the process environment (granian/wsgi.py, `basic_env`), so a request's environ holds every variable."""
    return {**PROCESS_ENVIRONMENT, "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:8080", "HTTP_AUTHORIZATION": "Bearer bench",
            "CONTENT_TYPE": "application/json" if body else "", "CONTENT_LENGTH": str(len(body)) if body else "",
            "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "REMOTE_ADDR": "127.0.0.1"}


def call(app: App, env: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    chunks = app(env, lambda line, headers, exc_info=None: status.append(line))
    body = b"".join(chunks)
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    return status[0], body


def per_call_us(app: App, make: Callable[[], dict[str, Any]], calls: int) -> float:
    for _ in range(300):
        call(app, make())
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(calls // 7):
            call(app, make())
        runs.append((time.perf_counter() - started) / (calls // 7) * 1e6)
    return sorted(runs)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=14_000)
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--profile", choices=["fetch", "submit"])
    args = parser.parse_args()
    settings = Settings(timing="manual", seed=1, default_balance=10**12, max_tasks=10**8,
                        accounts=[AccountConfig(queue_size=10**8)])
    if args.access_log:
        configure_logging(settings)
        logging.getLogger().handlers[0].setStream(open("/dev/null", "w"))  # noqa: SIM115 (lives with the process)
        defer_access_log()
    app = create_app(settings)
    try:
        measure(app, args.calls, args.profile)
    finally:
        app.extensions["mockmj"].callbacks.stop()


def measure(app: Any, calls: int, profile: str | None) -> None:
    task_id = json.loads(call(app, environ("POST", "/mj/submit/imagine", IMAGINE))[1])["result"]
    app.extensions["mockmj"].engine.advance(600_000)
    fetch = lambda: environ("GET", f"/mj/task/{task_id}/fetch")  # noqa: E731
    submit = lambda: environ("POST", "/mj/submit/imagine", IMAGINE)  # noqa: E731
    status, answer = call(app, fetch())
    assert status == "200 OK" and json.loads(answer)["status"] == "SUCCESS", answer
    if profile:
        make = fetch if profile == "fetch" else submit
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [call(app, make()) for _ in range(calls)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    bare = per_call_us(bare_app(answer), fetch, calls)
    hello = per_call_us(hello_app(answer), fetch, calls)
    fetched = per_call_us(app, fetch, calls)
    submitted = per_call_us(app, submit, calls)
    print(f"bare WSGI callable  {bare:7.1f} µs/call")
    print(f"Flask hello         {hello:7.1f} µs/call")
    print(f"mockmj fetch        {fetched:7.1f} µs/call  ({fetched / hello:.2f}× hello)")
    print(f"mockmj submit       {submitted:7.1f} µs/call  ({submitted / hello:.2f}× hello)")

if __name__ == "__main__":
    main()
