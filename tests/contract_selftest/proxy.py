"""A reverse proxy in front of a real `mockmj serve`, with one corruption applied to what passes through it.

This is what a user validating a deployment faces: a relay in front of a proxy, which breaks one promise.
The proxy forwards every request (method, path, query, headers, body) to the upstream and hands back its
answer; the corruption (a WSGI middleware of corruptions.py) rewrites requests and answers on the way. The
`Host` header is forwarded as the client sent it, so the mock builds its media URLs on the proxy, and media
downloads pass through the corruption too. Callbacks go from the mock to the suite's receiver directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

Wsgi = Callable[..., Iterable[bytes]]
# Headers that describe one connection or one encoding of the body, not the message: never forwarded.
HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "te",
                 "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"})


def forwarding(upstream: str) -> Wsgi:
    session = requests.Session()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in HOP}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        url = upstream + environ.get("PATH_INFO", "") + (f"?{environ['QUERY_STRING']}"
                                                          if environ.get("QUERY_STRING") else "")
        resp = session.request(environ["REQUEST_METHOD"], url, headers=headers, data=body, allow_redirects=False,
                               timeout=120)
        content = resp.content
        out = [(k, v) for k, v in resp.raw.headers.items() if k.lower() not in HOP]
        out.append(("Content-Length", str(len(content))))
        start_response(f"{resp.status_code} {resp.reason}", out)
        return [content]

    return app


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Nothing: a self-test sends thousands of requests through the proxy."""


class CorruptingProxy:
    """The proxy on a free loopback port, in a thread of the calling process."""

    def __init__(self, upstream: str, corruption: Callable[[Wsgi], Wsgi] | None = None) -> None:
        app = forwarding(upstream.rstrip("/"))
        if corruption is not None:
            app = corruption(app)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="corrupting-proxy", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stop_all(proxies: list[CorruptingProxy]) -> None:
    """Stop the proxies together: each stop waits up to half a second for its server's loop to notice, which for
    the self-check's 66 proxies one after the other was half a minute of waiting."""
    with ThreadPoolExecutor(max(1, len(proxies))) as pool:
        list(pool.map(CorruptingProxy.stop, proxies))
