"""The API's request pipeline, whatever carries the request (the Flask view or the hot path): auth, body
limits and schema, control rules, the handler, refusals, strict checking, journal and findings."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockmj.engine.callbacks.delivery import FAULTS
from mockmj.engine.calls import ANONYMOUS, Caller
from mockmj.engine.journal import billable
from mockmj.model.errors import Refusal
from mockmj.model.jsonio import compact
from mockmj.web.exchange import FAULT, FAULT_HEADER, OUTCOME, Exchange
from mockmj.web.explain import request_headers, response_headers, summary, task_touched
from mockmj.web.findings_feed import feed as feed_findings
from mockmj.web.guard import BodyProblem, check_body, parse_json
from mockmj.web.handlers import HANDLERS, Context
from mockmj.web.render import Reply, http_error, refused
from mockmj.web.spec import Operation, describe_error

if TYPE_CHECKING:
    from mockmj.web.mock import Mock

log = logging.getLogger("mockmj")

MODE_OF_PREFIX = {"/mj-fast": "FAST", "/mj-relax": "RELAX", "/mj-turbo": "TURBO"}


class StrictViolation(AssertionError):
    """A response the mock was about to send disagrees with openapi.yaml (strict mode)."""


def api_routes(mock: Mock) -> list[tuple[Operation, str]]:
    """Every public operation with each path prefix it answers under ("" and the speed-mode prefixes)."""
    prefixes = ["", *mock.spec.extension("x-mockmj-mode-prefixes", [])]
    return [(op, prefix) for op in mock.spec.operations for prefix in prefixes
            if not prefix or op.path.startswith("/mj/")]


def answer(mock: Mock, op: Operation, mode: str | None, exchange: Exchange) -> Reply:
    """The whole answer to one API request, however it arrived: auth, body, rules, handler, refusals,
    strict checking, journal and findings. Only the framing around it differs (Flask or the hot path)."""
    with mock.engine.request():  # a shared store is asked once whether other workers wrote
        try:
            reply = _handle(mock, op, mode, HANDLERS[op.operation_id], exchange)
        except Refusal as refusal:
            reply = refused(mock.dialect, refusal)
    if mock.settings.strict:
        _check_strictly(op, reply)
    journal(mock, exchange.method, exchange.path, exchange.raw, op, reply, exchange.key,
            time.perf_counter() - exchange.started, exchange.environ, exchange.rule,
            task_touched(exchange.path_params, exchange.body, reply))
    feed_findings(mock, op, reply, exchange)
    return reply


def _check_strictly(op: Operation, reply: Reply) -> None:
    if reply.rendered is not None and reply.rendered != compact(reply.payload):
        # a finished task's JSON is rendered once (web/finished.py): it must still be what rendering gives
        problem = f"{op.operation_id}: the remembered JSON of task {reply.payload.get('id')} is stale"
    elif op.operation_id != "getAttachment" and not reply.forced:
        problem = op.check_response(reply.status, reply.payload, not reply.empty and reply.raw is None)
    else:
        return
    if problem:
        log.error("strict mode: %s", problem)
        raise StrictViolation(problem)


def _authorize(mock: Mock, op: Operation, exchange: Exchange) -> tuple[str | None, Reply | None]:
    """The caller's key, and the refusal (401, 403, 429) to send instead of handling, if any."""
    key = exchange.api_key()
    if op.public:
        return key, None
    required = mock.auth_required()

    def refuse(status: int, why: str) -> Reply:
        return http_error(mock.dialect, status, why, exchange.path, mock.spring_timestamp())

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
    record = mock.engine.ledger.api_key(key)
    if record is None:
        if required:
            return key, refuse(401, "Unauthorized: this API key is not valid")
        return None, None  # auth is off: an unknown key is simply not a tenant of its own
    if not record.may_call(op.operation_id):
        return key, refuse(403, f"Forbidden: this API key may not call {op.operation_id}")
    wait = mock.engine.ledger.throttle(record)
    if wait is not None:
        reply = refuse(429, f"Too many requests: the limit of this key is {record.rate_limit:g}/s, "
                            f"retry in {wait:.2f}s")
        reply.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return key, reply
    return key, None


def _handle(mock: Mock, op: Operation, mode: str | None, handler: Callable[[Context], Reply],
            exchange: Exchange) -> Reply:
    key, refusal = _authorize(mock, op, exchange)
    exchange.key = key  # a refused request is still the caller's (journal, findings)
    if refusal is not None:
        return refusal
    body, problem = _read_body(mock, op, exchange)
    if problem is not None:
        return problem
    caller = Caller(
        key=key or ANONYMOUS,
        origin=exchange.origin,
        mode=mode,
        outcome=exchange.header(OUTCOME),
        callback_fault=_fault(exchange.header(FAULT)),
    )
    ctx = Context(mock.engine, caller, body, exchange.path_params, mock.spec.text, mock.docs_html, exchange.path,
                  mock.finished)
    for hook in mock.before_handler:
        early = hook(op, ctx)
        exchange.rule = ctx.rule
        if early is not None:
            return early
    return handler(ctx)


def _fault(value: str | None) -> str | None:
    if not value:
        return None
    if value not in FAULTS:
        raise Refusal("param", f"{FAULT_HEADER} must be one of {', '.join(FAULTS)}", rule="fault")
    return value


def _read_body(mock: Mock, op: Operation, exchange: Exchange) -> tuple[dict[str, Any], Reply | None]:
    """The JSON body of an operation that takes one; GET bodies (relays send `null`) are ignored.

    Bounded before anything else looks at it: size (413, by Flask's MAX_CONTENT_LENGTH), depth,
    Unicode and the field limits (web/guard.py); then the schema.
    """
    if not op.takes_body:
        return {}, None
    dialect = mock.dialect

    def bad(status: int, why: str, explain: bool = False) -> tuple[dict[str, Any], Reply]:
        return {}, http_error(dialect, status, why, exchange.path, mock.spring_timestamp(), explain)

    raw = exchange.raw = exchange.read_body()
    if dialect.content_type == "json" and (raw or exchange.content_type) and not _is_json(exchange.mimetype):
        return bad(415, f"Unsupported Media Type: Content-Type '{exchange.content_type or ''}' is not supported; "
                        "send application/json", explain=True)
    try:
        body = parse_json(raw, mock.limits.max_depth) if raw.strip() else None
        if not isinstance(body, dict):
            return bad(400, "Parameter error: the request body must be a JSON object")
        check_body(body, mock.limits)
    except BodyProblem as problem:
        return {}, _limit_reply(mock, problem, exchange.path)
    exchange.body = body  # parsed once: the findings feed reads it too, even when the schema refuses it
    errors = op.body_errors(body)
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


def _limit_reply(mock: Mock, problem: BodyProblem, path: str) -> Reply:
    """A body over a limit: HTTP 400, or the dialect's parameter-error code naming the field and limit."""
    dialect = mock.dialect
    if problem.field is None or dialect.limit_errors == "http":
        # unreadable JSON is Spring's plain 400; the mock's own limits say which one was hit
        return http_error(dialect, 400, f"Parameter error: {problem.message}", path, mock.spring_timestamp(),
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


def journal(mock: Mock, method: str, path: str, raw: bytes, op: Operation | None, reply: Reply,
            key: str | None, seconds: float, environ: dict[str, Any] | None = None,
            rule: dict[str, Any] | None = None, task_id: str | None = None) -> None:
    """One journal entry; `raw` is what the body reader read (nothing for GETs or bodies refused unread).

    Besides the request's summary it keeps what the dashboard shows when an entry is opened: the request's
    headers (masked), the response's headers and the start of its body, the rule and the task."""
    if reply.raw is None and not reply.empty and reply.rendered is None:
        reply.rendered = compact(reply.payload)  # rendered once: the response sends these very bytes
    answered = reply.body()
    charged = method == "POST" and billable(method, _unprefixed(path))
    result = reply.payload.get("result") if isinstance(reply.payload, dict) else None
    journal_entry(mock, method, path, raw, op.operation_id if op else None, reply.status, reply.code, key, seconds, {
        # a submission that made nothing (an error status, or an envelope without a result): 21, 25, 429...
        "refused": charged and (reply.status >= 400 or not result),
        "requestHeaders": request_headers(environ) if environ is not None else {},
        "responseHeaders": response_headers(reply, len(answered)),
        "responseBody": summary(answered, reply.mimetype),
        "rule": rule,
        "taskId": task_id,
    })


def journal_entry(mock: Mock, method: str, path: str, raw: bytes, operation_id: str | None, status: int,
                  code: int | None, key: str | None, seconds: float, explained: dict[str, Any] | None = None) -> None:
    """`journal` an answer from its figures (the hot path's fetch of a finished task has no Reply)."""
    mock.journal.record(journal_entry_of(mock.engine.now(), method, path, raw, operation_id, status, code, key,
                                         seconds, explained))


def journal_entry_of(at: int, method: str, path: str, raw: bytes, operation_id: str | None, status: int,
                     code: int | None, key: str | None, seconds: float,
                     explained: dict[str, Any] | None = None) -> dict[str, Any]:
    """The journal's entry for an answer given at `at` (the mock's clock): what `journal_entry` records."""
    return {
        "time": at,
        "method": method,
        "path": path,
        "operationId": operation_id,
        "key": key,
        "status": status,
        "code": code,
        "billable": method == "POST" and billable(method, _unprefixed(path)),
        "latencyMs": round(seconds * 1000, 2),
        "body": summary(raw, "application/json"),
        **(explained or {}),
    }


def _unprefixed(path: str) -> str:
    for prefix in MODE_OF_PREFIX:
        if path.startswith(prefix + "/mj/"):
            return path[len(prefix):]
    return path


