"""The Flask app factory: routes from the OpenAPI document, the control plane, logs and the hot path.

Every public route is an operation of openapi.yaml, bound to a handler by operationId. An operation
without a handler stops the app from starting; there is no other public route. What a request goes
through once routed lives in web/api.py; the hot path (web/hot.py) takes the busiest routes before Flask.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from mockmj.config import Settings
from mockmj.store.base import RETRY_AFTER_S, StoreUnavailable
from mockmj.web.api import MODE_OF_PREFIX, StrictViolation, answer, api_routes, journal
from mockmj.web.control import register_control
from mockmj.web.dashboard import lead_browsers_to_the_dashboard
from mockmj.web.exchange import OUTCOME_HEADER, Exchange, api_key_of
from mockmj.web.handlers import HANDLERS
from mockmj.web.hot import HotPath
from mockmj.web.logs import install as install_logs
from mockmj.web.mock import Mock, spring_timestamp
from mockmj.web.render import Reply, http_error
from mockmj.web.routing import LazyBuilderRule
from mockmj.web.spec import Operation

# Kept importable from here, where they used to live.
__all__ = ["OUTCOME_HEADER", "Mock", "StrictViolation", "api_key_of", "create_app", "spring_timestamp"]


# Building an app compiles its URL rules with `ast.parse`, which CPython 3.11 does not make safe across
# threads ("AST constructor recursion depth mismatch"): apps built from several threads take turns.
_BUILD_LOCK = threading.Lock()
store_log = logging.getLogger("mockmj.store")


def create_app(settings: Settings | None = None) -> Flask:
    with _BUILD_LOCK:
        return _create_app(settings)


def _create_app(settings: Settings | None) -> Flask:
    settings = settings or Settings()
    settings.check()
    mock = Mock(settings)
    app = Flask("mockmj", static_folder=None)
    app.url_rule_class = LazyBuilderRule  # URL builders are compiled only if a URL is ever built
    app.json.compact = True  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes  # larger bodies: 413, read no further
    app.extensions["mockmj"] = mock

    missing = [op.operation_id for op in mock.spec.operations if op.operation_id not in HANDLERS]
    if missing:
        raise RuntimeError(f"openapi.yaml operations without a handler: {', '.join(missing)}")
    for op, prefix in api_routes(mock):
        app.add_url_rule(
            prefix + op.flask_path,
            endpoint=f"{op.operation_id}{prefix}",
            view_func=_view(mock, op, MODE_OF_PREFIX.get(prefix)),
            methods=[op.method],
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 413:
            why = f"Payload Too Large: the request body is over the limit of {settings.max_body_bytes} bytes"
        else:
            why = f"{exc.name}: {request.method} {request.path}"
        reply = http_error(mock.dialect, status, why, request.path, mock.spring_timestamp(), explain=status == 413)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            reply.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        exchange: Exchange | None = g.get("mockmj_exchange")  # what the failed request had read, if anything
        journal(mock, request.method, request.path, exchange.raw if exchange else b"", None, reply, None, 0.0,
                request.environ)
        g.mockmj_reply = reply
        return to_response(reply)

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> Response:
        # Nothing of the request was kept (replica.py forgets it): the client may simply try again. Not journalled:
        # the journal lives in the very store that is unavailable. The access log has it (after_request).
        store_log.warning("%s %s: 503, %s", request.method, request.path, exc)
        reply = http_error(mock.dialect, 503, f"Service Unavailable: {exc}; try again in {RETRY_AFTER_S} s",
                           request.path, mock.spring_timestamp(), explain=True)
        reply.headers["Retry-After"] = str(RETRY_AFTER_S)
        g.mockmj_reply = reply
        return to_response(reply)

    register_control(app, mock)  # the control plane has its own spec and routes
    request_log = install_logs(app, mock)
    lead_browsers_to_the_dashboard(app)
    # the hot path hands every body without a Content-Length to Flask, so Flask's side is where they are counted
    app.wsgi_app = CappedBodies(app.wsgi_app, settings.max_body_bytes)  # type: ignore[method-assign]
    app.wsgi_app = HotPath(app, mock, request_log)  # type: ignore[method-assign]
    return app


class CappedBodies:
    """A body without a Content-Length (chunked) counted against the size limit as one with it is: over it, a 413.
    werkzeug reads such a body only up to the limit and silently drops the rest, so a 40 MB body could be taken
    for its first 32 MiB (or for valid JSON followed by megabytes of spaces)."""

    def __init__(self, app: Callable[..., Any], limit: int) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # werkzeug, as HTTP/1.1 says, ignores a Content-Length that comes with Transfer-Encoding: chunked
        framed = environ.get("CONTENT_LENGTH") and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not framed and "wsgi.input" in environ:
            environ["wsgi.input"] = _CappedInput(environ["wsgi.input"], self.limit)
        return self.app(environ, start_response)


class _CappedInput:
    """Reads the whole body (up to one byte past the limit) at the first read, and refuses it when over."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream, self._limit = stream, limit
        self._body: io.BytesIO | None = None

    def _filled(self) -> io.BytesIO:
        if self._body is None:
            parts, size = [], 0
            while size <= self._limit:
                part = self._stream.read(min(1 << 20, self._limit + 1 - size))
                if not part:
                    break
                parts.append(part)
                size += len(part)
            if size > self._limit:
                raise RequestEntityTooLarge()
            self._body = io.BytesIO(b"".join(parts))
        return self._body

    def read(self, size: int | None = -1) -> bytes:
        return self._filled().read(-1 if size is None else size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._filled().readline(-1 if size is None else size)

    def __iter__(self) -> Any:
        return iter(self._filled())


def _view(mock: Mock, op: Operation, mode: str | None) -> Callable[..., Response]:
    def view(**path_params: str) -> Response:
        exchange = Exchange(request.environ, request.method, request.path, path_params,
                            read_body=lambda: request.get_data(cache=True))
        g.mockmj_exchange = exchange
        reply = answer(mock, op, mode, exchange)
        g.mockmj_reply, g.mockmj_key = reply, exchange.key  # the access log reads the answer here, not the bytes
        return to_response(reply)

    view.__name__ = f"view_{op.operation_id}"
    return view


def to_response(reply: Reply) -> Response:
    response = Response(reply.body(), status=reply.status, mimetype=reply.mimetype)
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response
