"""A mock inside the calling process (the pytest plugin, the test suite, the contract suite's default
target) on werkzeug's threaded server, stopped through its public API only (as moto's ThreadedMotoServer).

Apart from serve/granian.py (`mockmj serve`), so that the recorder and the replay, which run on it, do not depend
on the serving code that can install them."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from mockmj.config import Settings, load_settings
from mockmj.web.app import Mock, create_app

WsgiApp = Callable[..., Any]

server_log = logging.getLogger("mockmj.server")
CHANNEL_TIMEOUT_S = 30  # an idle keep-alive connection is closed after this


def release(app: Any) -> None:
    """Stop what a mock's app runs besides answering requests: its callback sender, and its store's
    connections and its rate limiter's (a shared store)."""
    mock = getattr(app, "extensions", {}).get("mockmj")
    if mock is None:
        return
    mock.callbacks.stop()
    mock.engine.close()


# ------------------------------------------------------------------------------------ in-process
class _Handler(WSGIRequestHandler):
    # An idle keep-alive connection is closed after this (each holds a thread), as waitress's channel_timeout.
    timeout = CHANNEL_TIMEOUT_S

    def version_string(self) -> str:
        return "mockmj"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Nothing: the mock keeps its own access log (mockmj.access) and journal."""

    def log(self, type: str, message: str, *args: Any) -> None:
        # werkzeug would print these (timeouts, malformed requests) on its own handler; tests stay quiet
        server_log.debug("%s %s", self.address_string(), message % args if args else message)


class _ThreadedServer(ThreadedWSGIServer):
    """werkzeug's threaded server (a thread per connection), keeping its open connections so that `stop()`
    can close them: a stopped mock must not go on answering on a kept-alive connection."""

    request_queue_size = 1024  # connections waiting to be accepted (werkzeug's default: 128)

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        super().__init__(host, port, app, handler=_Handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # closed meanwhile
                connection.shutdown(socket.SHUT_RDWR)  # its thread's read returns; it closes the socket


# How often the accept loop looks for a stop request: `stop()` waits up to this long.
POLL_INTERVAL_S = 0.02
READY_TIMEOUT_S = 10


class MockServer:
    """A mock listening on loopback in a background thread (as moto's ThreadedMotoServer: werkzeug's server,
    an event set when it serves, `shutdown()` and `join()` to stop); `stop()` closes it.

    `threads` is accepted for older callers and ignored: the server runs a thread per connection."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int | None = None) -> None:
        self.app = app
        self._server = _ThreadedServer(host, port, app)  # bound and listening here: errors reach the caller
        self.host = host
        self.port = int(self._server.server_port)
        self._serving = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"mockmj-{self.port}", daemon=True)
        self._thread.start()
        self._serving.wait(READY_TIMEOUT_S)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mock(self) -> Mock:
        return self.app.extensions["mockmj"]

    def _run(self) -> None:
        self._serving.set()
        self._server.serve_forever(poll_interval=POLL_INTERVAL_S)

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection, then the app's own work."""
        if self._stopping:
            return
        self._stopping = True
        self._server.shutdown()  # returns once serve_forever has
        self._server.server_close()
        self._server.close_connections()
        self._thread.join()
        self._release()

    def _release(self) -> None:
        """Stop what the app runs besides its sockets (a mock: its callback worker)."""
        release(self.app)

    def __enter__(self) -> MockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mock_app(
    dialect: str = "88api",
    timing: str = "fast",
    seed: int | None = None,
    api_keys: list[str] | None = None,
    no_auth: bool = False,
    notify_hook: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> Any:
    """The app of a mock with these options (or these settings), not yet serving."""
    if settings is None:
        from mockmj.config import KeyConfig

        keys = [KeyConfig(key=k) for k in api_keys] if api_keys else None
        settings = load_settings(None, dialect=dialect, timing=timing, seed=seed, keys=keys,
                                 no_auth=no_auth or None, notify_hook=notify_hook, **overrides)
    return create_app(settings)


def start_mock(app_wrapper: Callable[[WsgiApp], WsgiApp] | None = None, **options: Any) -> MockServer:
    """Start a mock (`mock_app`'s options) on a free loopback port. `app_wrapper` can wrap the WSGI app
    (fault injection)."""
    app = mock_app(**options)
    if app_wrapper:
        app.wsgi_app = app_wrapper(app.wsgi_app)  # type: ignore[method-assign]
    return MockServer(app)
