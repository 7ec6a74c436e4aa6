"""Running the mock on a real socket: the waitress server used by `mockmj serve`, the pytest plugin,
the test suite and the contract suite's in-process target."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from waitress.server import create_server

from .config import Settings, load_settings
from .web.app import Mock, create_app

WsgiApp = Callable[..., Any]


# Idle or slow clients must not starve the others: waitress stops accepting at `connection_limit`
# open channels (default 100, which 98 idle sockets nearly exhausted), and closes idle ones after
# `channel_timeout`. Its select()-based loop cannot watch more than ~1,000 sockets, hence the limit.
CONNECTION_LIMIT = 900
CHANNEL_TIMEOUT_S = 30
# Bodies past this are refused by waitress itself; smaller ones past max_body_bytes get the dialect's 413.
WAITRESS_BODY_LIMIT = 64 * 1024 * 1024


def waitress_server(app: WsgiApp, host: str, port: int, threads: int) -> Any:
    """The production WSGI server both `mockmj serve` and the in-process servers run on."""
    mock = getattr(app, "extensions", {}).get("mockmj")
    body_limit = max(WAITRESS_BODY_LIMIT, 2 * mock.settings.max_body_bytes) if mock else WAITRESS_BODY_LIMIT
    return create_server(app, host=host, port=port, threads=threads, ident="mockmj",
                         clear_untrusted_proxy_headers=True, connection_limit=CONNECTION_LIMIT,
                         channel_timeout=CHANNEL_TIMEOUT_S, max_request_body_size=body_limit)


class MockServer:
    """A mock listening on loopback in a background thread; `stop()` closes it."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> None:
        self.app = app
        self._server = waitress_server(app, host, port, threads)
        self.host = host
        self.port = int(self._server.effective_port)  # type: ignore[union-attr]
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"mockmj-{self.port}", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mock(self) -> Mock:
        return self.app.extensions["mockmj"]

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            # closing the sockets under a running select() is how a waitress loop is stopped
            if not self._stopping:
                raise

    def stop(self) -> None:
        """Close every channel so the server loop ends, then stop the worker threads."""
        if self._stopping:
            return
        self._stopping = True
        self._release()
        server = self._server
        server.logger.setLevel(logging.CRITICAL)
        while server._map:  # type: ignore[attr-defined]
            for channel in list(server._map.values()):  # type: ignore[attr-defined]
                channel.handle_close()
        server.task_dispatcher.shutdown()  # type: ignore[attr-defined]
        self._thread.join(timeout=0.05)  # the loop notices within its select timeout; no need to wait

    def _release(self) -> None:
        """Stop what the app runs besides its sockets (a mock: its callback worker)."""
        self.mock.callbacks.stop()

    def __enter__(self) -> MockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mock(
    dialect: str = "88api",
    timing: str = "fast",
    seed: int | None = None,
    api_keys: list[str] | None = None,
    no_auth: bool = False,
    notify_hook: str | None = None,
    app_wrapper: Callable[[WsgiApp], WsgiApp] | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> MockServer:
    """Start a mock on a free loopback port. `app_wrapper` can wrap the WSGI app (fault injection)."""
    if settings is None:
        from .config import KeyConfig

        keys = [KeyConfig(key=k) for k in api_keys] if api_keys else None
        settings = load_settings(None, dialect=dialect, timing=timing, seed=seed, keys=keys,
                                 no_auth=no_auth or None, notify_hook=notify_hook, **overrides)
    app = create_app(settings)
    if app_wrapper:
        app.wsgi_app = app_wrapper(app.wsgi_app)  # type: ignore[method-assign]
    return MockServer(app)
