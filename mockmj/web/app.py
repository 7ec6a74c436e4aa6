"""The Flask app factory: routes from the OpenAPI document, auth, validation, rendering, journal.

Every public route is an operation of openapi.yaml, bound to a handler by operationId. An operation
without a handler stops the app from starting; there is no other public route.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..config import Settings
from ..core.callbacks import FAULTS, Callbacks
from ..core.dialects import Dialect
from ..core.engine import ANONYMOUS, Caller, Engine
from ..core.errors import Refusal
from ..core.findings import Findings
from ..core.journal import Journal, billable
from ..core.rules import Rules
from .findings_feed import feed as feed_findings
from .findings_feed import thresholds_of
from .guard import BodyLimits, BodyProblem, check_body, parse_json
from .handlers import HANDLERS, Context
from .render import Reply, http_error, refused
from .spec import ApiSpec, Operation, describe_error, load_spec

log = logging.getLogger("mockmj")

MODE_OF_PREFIX = {"/mj-fast": "FAST", "/mj-relax": "RELAX", "/mj-turbo": "TURBO"}
OUTCOME_HEADER = "X-MockMJ-Outcome"
FAULT_HEADER = "X-MockMJ-Callback-Fault"


class StrictViolation(AssertionError):
    """A response the mock was about to send disagrees with openapi.yaml (strict mode)."""


class Mock:
    """Everything one running mock holds; reachable as app.extensions['mockmj']."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = Engine(settings)
        self.spec: ApiSpec = load_spec()
        self.control_spec: ApiSpec = load_spec("control-openapi.yaml")
        self.journal = Journal(settings.journal_size, settings.journal_bytes, self.engine.store)
        self.findings = Findings(thresholds_of(settings))
        self.rules: Rules = self.engine.rules  # changed only through the engine's rule methods
        self.callbacks = Callbacks(self.engine)
        self.before_handler: list[Callable[[Operation, Context], Reply | None]] = []
        self.limits = BodyLimits.of(settings)
        self.engine.on_evict.append(self._journal_eviction)

    def _journal_eviction(self, task_ids: list[str], cap: int) -> None:
        """Evictions are never silent: one journal entry per batch names the tasks that went."""
        listed = ", ".join(task_ids[:20]) + (f" and {len(task_ids) - 20} more" if len(task_ids) > 20 else "")
        self.journal.record({
            "time": self.engine.now(), "method": "EVICT", "path": "/mj/task", "operationId": "mockmjEviction",
            "key": None, "status": 0, "code": None, "billable": False, "latencyMs": 0.0,
            "body": f"evicted {len(task_ids)} finished task(s), oldest first, beyond max_tasks={cap}: {listed}",
        })

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    def docs_html(self) -> str:
        from .docs import docs_html  # docs imports this module for its types

        return docs_html(self)

    def auth_required(self) -> bool:
        if self.settings.no_auth:
            return False
        return bool(self.settings.keys) or self.dialect.auth_without_keys


# What clients send when their key variable is unset or empty: a mock should catch that bug, not hide it.
PLACEHOLDER_KEYS = frozenset({"", "undefined", "null", "none", "nil", "bearer"})


def api_key_of(headers: Any) -> str | None:
    """The key from `Authorization: Bearer K` or `mj-api-secret: K` (a `Bearer ` prefix tolerated).

    A header that is present but holds no real key (`Bearer `, `undefined`, `null`, `None`) gives "":
    the caller tried to authenticate and failed, which is not the same as sending no key at all.
    """
    placeholder = False
    for name in ("Authorization", "mj-api-secret"):
        raw = headers.get(name)
        if raw is None:
            continue
        value = raw.strip()
        if value[:7].lower() == "bearer " or value.lower() == "bearer":
            value = value[6:].strip()
        if value == "midjourney-proxy":  # the proxy's own placeholder secret, which relays send
            continue
        if value.lower() in PLACEHOLDER_KEYS:
            placeholder = True
            continue
        return value
    return "" if placeholder else None


def spring_timestamp() -> str:
    """Spring's error timestamp, from the mock's clock (so replays with a seed stay byte-identical)."""
    mock: Mock = current_app.extensions["mockmj"]
    moment = datetime.fromtimestamp(mock.engine.now() / 1000, UTC)
    return moment.isoformat(timespec="milliseconds")


# Building an app compiles its URL rules with `ast.parse`, which CPython 3.11 does not make safe across
# threads ("AST constructor recursion depth mismatch"): apps built from several threads take turns.
_BUILD_LOCK = threading.Lock()


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
    prefixes = ["", *mock.spec.extension("x-mockmj-mode-prefixes", [])]
    for op in mock.spec.operations:
        for prefix in prefixes:
            if prefix and not op.path.startswith("/mj/"):
                continue
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
        reply = http_error(mock.dialect, status, why, request.path, spring_timestamp(), explain=status == 413)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            reply.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        _journal(mock, None, reply, None, 0.0)
        g.mockmj_reply = reply
        return _to_response(reply)

    from ..control import register_control  # the control plane has its own spec and routes

    register_control(app, mock)
    from ..dashboard import lead_browsers_to_the_dashboard
    from ..logs import install as install_logs

    install_logs(app, mock)
    lead_browsers_to_the_dashboard(app)
    return app


def _view(mock: Mock, op: Operation, mode: str | None) -> Callable[..., Response]:
    handler = HANDLERS[op.operation_id]

    def view(**path_params: str) -> Response:
        started = time.perf_counter()
        key: str | None = None
        try:
            reply, key = _handle(mock, op, mode, handler, path_params)
        except Refusal as refusal:
            reply = refused(mock.dialect, refusal)
            key = g.get("mockmj_key")  # a refused submission is still the caller's (journal, findings)
        if mock.settings.strict and op.operation_id != "getAttachment" and not reply.forced:
            problem = op.check_response(reply.status, reply.payload, not reply.empty and reply.raw is None)
            if problem:
                log.error("strict mode: %s", problem)
                raise StrictViolation(problem)
        _journal(mock, op, reply, key, time.perf_counter() - started)
        g.mockmj_reply, g.mockmj_key = reply, key  # the access log reads the answer from here, not the bytes
        return _to_response(reply)

    view.__name__ = f"view_{op.operation_id}"
    return view


def _authorize(mock: Mock, op: Operation) -> tuple[str | None, Reply | None]:
    """The caller's key, and the refusal (401, 403, 429) to send instead of handling, if any."""
    key = api_key_of(request.headers)
    if op.public:
        return key, None
    required = mock.auth_required()

    def refuse(status: int, why: str) -> Reply:
        return http_error(mock.dialect, status, why, request.path, spring_timestamp())

    if key == "":
        if required:
            return None, refuse(401, "Unauthorized: the API key is empty or a placeholder ('undefined', 'null', "
                                     "'None'): is the client's key variable set?")
        return None, None
    if key is None:
        if required:
            return None, refuse(401, "Unauthorized: send your API key as 'Authorization: Bearer <key>' or "
                                     "'mj-api-secret: <key>'")
        return None, None
    record = mock.engine.api_key(key)
    if record is None:
        if required:
            return key, refuse(401, "Unauthorized: this API key is not valid")
        return None, None  # auth is off: an unknown key is simply not a tenant of its own
    if not record.may_call(op.operation_id):
        return key, refuse(403, f"Forbidden: this API key may not call {op.operation_id}")
    wait = mock.engine.throttle(record)
    if wait is not None:
        reply = refuse(429, f"Too many requests: the limit of this key is {record.rate_limit:g}/s, "
                            f"retry in {wait:.2f}s")
        reply.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return key, reply
    return key, None


def _handle(
    mock: Mock, op: Operation, mode: str | None, handler: Callable[[Context], Reply], path_params: dict[str, str]
) -> tuple[Reply, str | None]:
    key, refusal = _authorize(mock, op)
    if refusal is not None:
        return refusal, key
    g.mockmj_key = key
    body, problem = _read_body(mock, op)
    if problem is not None:
        return problem, key
    caller = Caller(
        key=key or ANONYMOUS,
        origin=request.host_url.rstrip("/"),
        mode=mode,
        outcome=request.headers.get(OUTCOME_HEADER),
        callback_fault=_fault(request.headers.get(FAULT_HEADER)),
    )
    ctx = Context(mock.engine, caller, body, path_params, mock.spec.text, mock.docs_html, request.path)
    for hook in mock.before_handler:
        early = hook(op, ctx)
        if early is not None:
            return early, key
    return handler(ctx), key


def _fault(value: str | None) -> str | None:
    if not value:
        return None
    if value not in FAULTS:
        raise Refusal("param", f"{FAULT_HEADER} must be one of {', '.join(FAULTS)}", rule="fault")
    return value


def _read_body(mock: Mock, op: Operation) -> tuple[dict[str, Any], Reply | None]:
    """The JSON body of an operation that takes one; GET bodies (relays send `null`) are ignored.

    Bounded before anything else looks at it: size (413, by Flask's MAX_CONTENT_LENGTH), depth,
    Unicode and the field limits (web/guard.py); then the schema.
    """
    if op.body_validator is None:
        return {}, None
    dialect = mock.dialect

    def bad(status: int, why: str, explain: bool = False) -> tuple[dict[str, Any], Reply]:
        return {}, http_error(dialect, status, why, request.path, spring_timestamp(), explain)

    raw = g.mockmj_raw = request.get_data(cache=True)
    if dialect.content_type == "json" and (raw or request.content_type) and not _is_json(request.mimetype):
        return bad(415, f"Unsupported Media Type: Content-Type '{request.content_type or ''}' is not supported; "
                        "send application/json", explain=True)
    try:
        body = parse_json(raw, mock.limits.max_depth) if raw.strip() else None
        if not isinstance(body, dict):
            return bad(400, "Parameter error: the request body must be a JSON object")
        check_body(body, mock.limits)
    except BodyProblem as problem:
        return {}, _limit_reply(mock, problem)
    g.mockmj_body = body  # parsed once: the findings feed reads it too, even when the schema refuses it
    errors = sorted(op.body_validator.iter_errors(body), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return body, None
    if dialect.schema_errors == "lenient":
        # Jackson refuses only what it cannot bind (unknown enum constants); the rest reaches the
        # controller's own checks, which answer with the upstream messages.
        if any(_unbindable(e) for e in errors):
            return bad(400, "")
        for error in errors:
            _coerce_to_string(body, error)
        return body, None
    return bad(400, f"Parameter error: {describe_error(errors[0])}")


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _limit_reply(mock: Mock, problem: BodyProblem) -> Reply:
    """A body over a limit: HTTP 400, or the dialect's parameter-error code naming the field and limit."""
    dialect = mock.dialect
    if problem.field is None or dialect.limit_errors == "http":
        # unreadable JSON is Spring's plain 400; the mock's own limits say which one was hit
        return http_error(dialect, 400, f"Parameter error: {problem.message}", request.path, spring_timestamp(),
                          explain=problem.rule != "not_json")
    field = problem.field
    return refused(dialect, Refusal("param", problem.message, rule=problem.rule,
                                    params={"field": field, "Field": field[:1].upper() + field[1:],
                                            "limit": problem.limit}))


def _unbindable(error: Any) -> bool:
    """Would Jackson refuse to bind this value? Unknown enum constants, and structure where a scalar
    is expected (or the reverse). Scalars where a string is expected are coerced, nulls are accepted."""
    value = error.instance
    if error.validator == "enum":
        return isinstance(value, str)
    if error.validator != "type" or value is None:
        return False
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    structured = {"object", "array"}
    if isinstance(value, dict | list):
        return not ({"object" if isinstance(value, dict) else "array"} & set(expected))
    return bool(set(expected) <= structured)


def _coerce_to_string(body: dict[str, Any], error: Any) -> None:
    """Jackson binds a number or boolean sent for a String field as its text ("prompt": 123 → "123")."""
    value, expected = error.instance, error.validator_value
    wanted = expected if isinstance(expected, list) else [expected]
    if error.validator != "type" or "string" not in wanted or not isinstance(value, int | float | bool):
        return
    path = list(error.absolute_path)
    if not path:
        return
    parent: Any = body
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = json.dumps(value)


def _journal(mock: Mock, op: Operation | None, reply: Reply, key: str | None, seconds: float) -> None:
    body_summary = None
    raw = g.get("mockmj_raw", b"")  # what the body reader read; nothing for GETs or bodies refused unread
    if raw:
        text = raw[:300].decode("utf-8", "replace")
        body_summary = text + ("…" if len(raw) > 300 else "")
    mock.journal.record({
        "time": mock.engine.now(),
        "method": request.method,
        "path": request.path,
        "operationId": op.operation_id if op else None,
        "key": key,
        "status": reply.status,
        "code": reply.code,
        "billable": billable(request.method, _unprefixed(request.path)),
        "latencyMs": round(seconds * 1000, 2),
        "body": body_summary,
    })
    if op is not None:
        feed_findings(mock, op, reply, key)


def _unprefixed(path: str) -> str:
    for prefix in MODE_OF_PREFIX:
        if path.startswith(prefix + "/mj/"):
            return path[len(prefix):]
    return path


def _to_response(reply: Reply) -> Response:
    response = Response(reply.body(), status=reply.status, mimetype=reply.mimetype)
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response
