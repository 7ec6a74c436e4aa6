"""The yardstick of bench_compare.py: a Flask "hello" that answers every GET with the same bytes as
mockmj's fetch of a finished task, so the difference to mockmj is mockmj's own work and nothing else.

The bytes come from the file named by MOCKMJ_BENCH_BODY. Served two ways:

    MOCKMJ_BENCH_BODY=answer.json python benchmarks/hello_app.py --port 8081     # waitress, as mockmj
    MOCKMJ_BENCH_BODY=answer.json granian --interface wsgi --workers 1 hello_app:app   # (from benchmarks/)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response


def bare_app(body: bytes) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """The limit of a Python app on a given server: a plain WSGI callable returning the bytes, no framework."""
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", headers)
        return [body]

    return app


def hello_app(body: bytes) -> Flask:
    app = Flask("hello")

    # one route for any path: the client may ask for /mj/task/<id>/fetch as it would ask mockmj
    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def hello(path: str) -> Response:
        return Response(body, mimetype="application/json")

    return app


_BODY = Path(os.environ["MOCKMJ_BENCH_BODY"]).read_bytes() if "MOCKMJ_BENCH_BODY" in os.environ else None
app = hello_app(_BODY) if _BODY is not None else None
bare = bare_app(_BODY) if _BODY is not None else None  # granian ... hello_app:bare


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the hello app on waitress, configured as `mockmj serve`.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8, help="as `mockmj serve --threads` (default 8)")
    args = parser.parse_args()
    if app is None:
        parser.error("set MOCKMJ_BENCH_BODY to the file holding the answer's bytes")
    # the very server factory `mockmj serve` uses: same waitress, same connection limits
    from mockmj.serve.waitress import waitress_server

    waitress_server(app, args.host, args.port, args.threads).run()


if __name__ == "__main__":
    main()
