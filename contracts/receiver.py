"""A tiny HTTP server that records the callbacks (notifyHook POSTs) a target sends."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Callback:
    path: str
    content_type: str
    body: bytes
    received: float

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None


class Receiver:
    def __init__(self, host: str, port: int, public_url: str | None = None) -> None:
        self.calls: list[Callback] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.calls.append(Callback(self.path, self.headers.get("Content-Type", ""), body,
                                                   time.monotonic()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        bound_port = self.server.server_address[1]
        self.base_url = (public_url or f"http://127.0.0.1:{bound_port}").rstrip("/")
        self.thread = threading.Thread(target=self.server.serve_forever, name="mj-callback-receiver",
                                       daemon=True)
        self.thread.start()

    def url_for(self, token: str) -> str:
        return f"{self.base_url}/cb/{token}"

    def for_token(self, token: str) -> list[Callback]:
        with self._lock:
            return [c for c in self.calls if c.path.rstrip("/").endswith(f"/cb/{token}")]

    def wait_for(self, token: str, done: Any, timeout: float) -> list[Callback]:
        """Wait until `done(calls)` holds or the timeout passes; return the calls for `token`."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self.for_token(token)
            if done(calls) or time.monotonic() >= deadline:
                return calls
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
