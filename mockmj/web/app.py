"""The Flask app factory: routes from the OpenAPI document, the control plane, logs and the hot path.

Every public route is an operation of openapi.yaml, bound to a handler by operationId. An operation
without a handler stops the app from starting; there is no other public route. What a request goes
through once routed lives in web/api.py; the hot path (web/hot.py) takes the busiest routes before Flask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

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
    app.wsgi_app = HotPath(app, mock, request_log)  # type: ignore[method-assign]
    return app


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
