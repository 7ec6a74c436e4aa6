"""The control plane under /_mockmj/: its own OpenAPI document, bound by operationId like the API.

Also home of the rule hook that runs before every public handler (forced codes, HTTP errors, latency
and outcomes), since rules are a control feature layered on the public API.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from mockmj.config import store_kind as _store_kind
from mockmj.engine.rules import RequestFacts
from mockmj.model.buttons import BUTTON_KINDS, parse_custom_id
from mockmj.model.errors import Refusal
from mockmj.model.masking import mask_key_field
from mockmj.model.settings import BALANCE_LIMIT, rate_limit_problem
from mockmj.store.base import RETRY_AFTER_S
from mockmj.version import __version__
from mockmj.web.dashboard import dashboard_handlers
from mockmj.web.guard import BodyProblem, check_body, parse_json
from mockmj.web.mock import spring_timestamp
from mockmj.web.render import Reply, compact, envelope, http_error
from mockmj.web.spec import Operation, describe_error

if TYPE_CHECKING:
    from mockmj.web.handlers import Context
    from mockmj.web.mock import Mock

ACTION_OF_OPERATION = {"submitImagine": "imagine", "submitBlend": "blend", "submitDescribe": "describe",
                       "submitShorten": "shorten", "submitSwapFace": "swap_face", "submitModal": "modal",
                       "submitChange": "change", "submitSimpleChange": "change",
                       "uploadDiscordImages": "upload", "submitVideo": "video", "submitEdits": "edit",
                       "submitEdit": "edit", "submitRetexture": "retexture"}


def check_rule(mock: Mock, match: dict[str, Any], respond: dict[str, Any]) -> None:
    """What the schema cannot say about a rule, refused now rather than never firing (a misspelt operation or
    action) or answering what no server answers (a success code, an HTTP status that is not an error)."""
    operations = sorted(op.operation_id for op in mock.spec.operations if not op.public)
    if match.get("operation") and match["operation"] not in operations:
        raise ControlError(400, f"match.operation: {match['operation']!r} is not an operation of the API "
                                f"(one of: {', '.join(operations)})")
    actions = sorted(set(ACTION_OF_OPERATION.values()) | BUTTON_KINDS)
    if match.get("action") and str(match["action"]).lower() not in actions:
        raise ControlError(400, f"match.action: {match['action']!r} is not an action or a button kind "
                                f"(one of: {', '.join(actions)})")
    codes = sorted(code for kind, code in mock.dialect.codes.items() if code != mock.dialect.codes["ok"])
    if "code" in respond and respond["code"] not in codes:
        raise ControlError(400, f"respond.code: {respond['code']} is not a refusal code of the "
                                f"{mock.dialect.name} dialect (one of: {', '.join(map(str, sorted(set(codes))))})")
    status = respond.get("httpStatus")
    if status is not None and not 400 <= status <= 599 and not (status == 200 and "code" in respond):
        raise ControlError(400, f"respond.httpStatus: {status} is not an error status (400-599; 200 only "
                                "beside a code)")
    if respond.get("outcome"):
        from mockmj.model.outcomes import parse_outcome

        parse_outcome(respond["outcome"])  # refuse a bad outcome now, not at the next request


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def register_control(app: Flask, mock: Mock) -> None:
    def rules_hook(op: Operation, ctx: Context) -> Reply | None:
        return apply_rules(mock, op, ctx)

    rules_hook.only_rules = True  # type: ignore[attr-defined]  # a no-op without rules: the hot path checks those
    mock.before_handler.append(rules_hook)
    handlers = {**_handlers(mock), **dashboard_handlers(mock, ControlError)}
    for op in mock.control_spec.operations:
        if op.operation_id not in handlers:
            raise RuntimeError(f"control operation without a handler: {op.operation_id}")
        app.add_url_rule(op.flask_path, endpoint=op.operation_id,
                         view_func=_view(mock, op, handlers[op.operation_id]), methods=[op.method])


TOKEN_HEADER = "X-MockMJ-Control-Token"
# Liveness probes (a container's HEALTHCHECK) need no token, nor the dashboard's static files: the page
# must load before it can ask for the token, and every call it then makes sends it.
OPEN_OPERATIONS = frozenset({"controlHealth", "controlDashboard", "controlDashboardFile"})


def _token_refusal(mock: Mock, op: Operation) -> Response | None:
    """401 unless the control token is configured and sent (compared in constant time)."""
    wanted = mock.settings.control_token
    if wanted is None or op.operation_id in OPEN_OPERATIONS:
        return None
    sent = request.headers.get(TOKEN_HEADER, "")
    if hmac.compare_digest(sent.encode("utf-8", "replace"), wanted.encode("utf-8")):
        return None
    why = f"the control API needs the header {TOKEN_HEADER} with the token given by --control-token"
    if sent:
        why = f"the {TOKEN_HEADER} header does not match the token given by --control-token"
    return Response(compact({"error": why}), status=401, mimetype="application/json")


def _view(mock: Mock, op: Operation, handler: Callable[..., Any]) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        refusal = _token_refusal(mock, op)
        if refusal is not None:
            return refusal
        try:
            body = _body(mock, op)
            result = handler(body, **params)
            status = 200
        except ControlError as exc:
            result, status = {"error": exc.message}, exc.status
        except Refusal as exc:
            result, status = {"error": exc.detail}, 400
        if isinstance(result, Response):
            return result
        if mock.settings.strict:
            problem = op.check_response(status, result, True)
            if problem:
                raise AssertionError(f"strict mode (control API): {problem}")
        return Response(compact(result), status=status, mimetype="application/json")

    view.__name__ = f"control_{op.operation_id}"
    return view


def _body(mock: Mock, op: Operation) -> dict[str, Any]:
    if not op.takes_body:
        return {}
    raw = request.get_data(cache=True)
    try:
        body = parse_json(raw, mock.limits.max_depth) if raw.strip() else {}
        if isinstance(body, dict):
            check_body(body, mock.limits)
    except BodyProblem as problem:
        raise ControlError(400, problem.message) from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    errors = list(op.body_validator.iter_errors(body))
    if errors:
        raise ControlError(400, describe_error(errors[0]))
    return body


def _limit() -> int | None:
    value = request.args.get("limit")
    if value is None:
        return None
    if not value.isdigit():
        raise ControlError(400, "limit must be a non-negative integer")
    return int(value)


def _handlers(mock: Mock) -> dict[str, Callable[..., Any]]:
    engine = mock.engine

    def health(_: dict[str, Any]) -> dict[str, Any] | Response:
        auth = "none" if not mock.auth_required() else ("keys" if mock.settings.keys else "any-key")
        problem = engine.store_problem()
        if problem is not None:
            # what the store's health is: a load balancer takes this worker out, a person reads why
            body = {"status": "store unavailable", "storeError": problem, "dialect": engine.dialect.name,
                    "version": __version__, "auth": auth, "store": _store_kind(mock.settings.store)}
            return Response(compact(body), status=503, mimetype="application/json",
                            headers={"Retry-After": str(RETRY_AFTER_S)})
        return {"status": "ok", "dialect": engine.dialect.name, "timing": engine.clock_view()["timing"],
                "version": __version__, "tasks": engine.task_count(), "auth": auth,
                "store": _store_kind(mock.settings.store), "rules": len(engine.rules.views())}

    def openapi(_: dict[str, Any]) -> Response:
        return Response(mock.control_spec.text, mimetype="application/yaml")

    def reset(body: dict[str, Any]) -> dict[str, Any]:
        key = body.get("key") or None
        engine.reset(key)
        mock.journal.clear(key)
        mock.findings.clear(key)
        return {"ok": True, "detail": f"reset {'key ' + key if key else 'everything'}"}

    def clock_state() -> dict[str, Any]:
        return engine.clock_view()

    def clock(_: dict[str, Any]) -> dict[str, Any]:
        return clock_state()

    def advance(body: dict[str, Any]) -> dict[str, Any]:
        engine.advance(round(float(body["seconds"]) * 1000))
        return clock_state()

    def timing(body: dict[str, Any]) -> dict[str, Any]:
        engine.set_timing(body["timing"])
        return clock_state()

    def list_rules(_: dict[str, Any]) -> list[dict[str, Any]]:
        return engine.rules.views()

    def add_rule(body: dict[str, Any]) -> dict[str, Any]:
        respond = body["respond"]
        if not respond:
            raise ControlError(400, "respond must say what to do: code, httpStatus, latencyMs, outcome or "
                                    "callbackFault")
        check_rule(mock, body.get("match") or {}, respond)
        return engine.rules.add(body.get("match") or {}, respond, body.get("times")).view()

    def clear_rules(_: dict[str, Any]) -> dict[str, Any]:
        engine.rules.clear()
        return {"ok": True}

    def delete_rule(_: dict[str, Any], ruleId: str) -> dict[str, Any]:
        if not engine.rules.delete(ruleId):
            raise ControlError(404, f"no rule {ruleId}")
        return {"ok": True}

    def requests_(_: dict[str, Any]) -> dict[str, Any]:
        filters = {k: v for k, v in request.args.items() if k != "limit"}
        for name in ("since", "status"):
            if name in filters and not filters[name].lstrip("-").isdigit():
                raise ControlError(400, f"{name} must be an integer")
        return {"total": mock.journal.total, "capacity": mock.settings.journal_size,
                "items": [mask_key_field(e) for e in mock.journal.query(filters, _limit())]}

    def clear_requests(_: dict[str, Any]) -> dict[str, Any]:
        key = request.args.get("key") or None
        mock.journal.clear(key)
        return {"ok": True, "detail": f"journal emptied{' of key ' + key if key else ''}"}

    def findings(_: dict[str, Any]) -> dict[str, Any]:
        final = request.args.get("final", "false").lower()
        if final not in ("true", "false", "1", "0"):
            raise ControlError(400, "final must be true or false")
        items = mock.findings.of(request.args.get("key") or None, final=final in ("true", "1"))
        return {"items": items, "thresholds": mock.findings.thresholds.as_dict(), "kinds": mock.findings.advice}

    def callbacks(_: dict[str, Any]) -> dict[str, Any]:
        return {"total": mock.callbacks.total, "capacity": mock.settings.outbox_size,
                "items": [mask_key_field(e) for e in
                          mock.callbacks.entries(request.args.get("taskId"), _limit(), request.args.get("key"))]}

    def timeline(_: dict[str, Any], id: str) -> dict[str, Any]:
        events = engine.views.timeline(id)
        if events is None:
            raise ControlError(404, f"no task {id}")
        events += [{"time": e["time"], "kind": "callback", "status": e["status"], "progress": e["progress"],
                    "detail": {k: e[k] for k in ("url", "attempt", "httpStatus", "error", "latencyMs", "fault")}}
                   for e in mock.callbacks.entries(id)]
        order = {"transition": 0, "callback": 1, "poll": 2}
        events.sort(key=lambda e: (e["time"] or 0, order[e["kind"]]))
        return {"taskId": id, "events": events}

    def list_keys(_: dict[str, Any]) -> list[dict[str, Any]]:
        return engine.ledger.key_views()

    def get_key(_: dict[str, Any], key: str) -> dict[str, Any]:
        record = engine.ledger.api_key(key)
        if record is None:
            raise ControlError(404, f"no key {key} (only the configured keys are accepted)")
        engine.ledger.balance(key)
        return record.describe()

    def update_key(body: dict[str, Any], key: str) -> dict[str, Any]:
        # every value is converted first, so a bad one leaves the key unchanged
        changes: dict[str, Any] = {}
        if "balance" in body:
            changes["balance"] = int(body["balance"])
            if abs(changes["balance"]) > BALANCE_LIMIT:
                raise ControlError(400, f"balance must be between -{BALANCE_LIMIT} and {BALANCE_LIMIT}")
        if "rateLimit" in body:
            changes["rateLimit"] = float(body["rateLimit"]) if body["rateLimit"] is not None else None
            problem = rate_limit_problem(changes["rateLimit"])
            if problem:
                raise ControlError(400, f"rateLimit {problem}")
        if "allowedOperations" in body:
            changes["allowedOperations"] = body["allowedOperations"]
        described = engine.ledger.update_key(key, changes)
        if described is None:
            raise ControlError(404, f"no key {key} (only the configured keys are accepted)")
        return described

    def list_accounts(_: dict[str, Any]) -> list[dict[str, Any]]:
        return engine.dispatch.views()

    def update_account(body: dict[str, Any], instanceId: str) -> dict[str, Any]:
        # JSON Schema counts 4.0 as an integer: convert every count before changing anything
        changes = {attr: body[field] for field, attr in (
            ("enabled", "enabled"), ("remix", "remix"), ("remixAutoSubmit", "remix_auto_submit"),
            ("modes", "modes"), ("remark", "remark")) if field in body}
        if "queueSize" in body:
            changes["queue_size"] = int(body["queueSize"])
        core_size = int(body["coreSize"]) if "coreSize" in body else None
        described = engine.dispatch.update(instanceId, changes, core_size)
        if described is None:
            raise ControlError(404, f"no account {instanceId}")
        return described

    return {
        "controlHealth": health, "controlOpenApi": openapi, "controlReset": reset, "controlClock": clock,
        "controlAdvance": advance, "controlSetTiming": timing, "controlListRules": list_rules,
        "controlAddRule": add_rule, "controlClearRules": clear_rules, "controlDeleteRule": delete_rule,
        "controlRequests": requests_, "controlClearRequests": clear_requests, "controlCallbacks": callbacks,
        "controlTimeline": timeline,
        "controlListKeys": list_keys, "controlGetKey": get_key, "controlUpdateKey": update_key,
        "controlListAccounts": list_accounts, "controlUpdateAccount": update_account,
        "controlFindings": findings,
    }


# ------------------------------------------------------------------------------------ rules hook
def _facts(op: Operation, ctx: Context) -> RequestFacts:
    body = ctx.body
    actions = {ACTION_OF_OPERATION.get(op.operation_id, op.operation_id.lower())}
    if op.operation_id == "submitAction" and isinstance(body.get("customId"), str):
        press = parse_custom_id(body["customId"])
        if press is not None:
            actions.add(press.kind)
    prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
    flt = body.get("accountFilter") if isinstance(body.get("accountFilter"), dict) else {}
    return RequestFacts(op.operation_id, actions, ctx.caller.key, prompt or "", str(flt.get("instanceId") or ""))


def _default_description(mock: Mock, code: int) -> str:
    dialect = mock.dialect
    kind = next((k for k, c in dialect.codes.items() if c == code), None)
    if kind is None:
        return f"Forced by a mockmj rule (code {code})"
    defaults = {"detail": "forced by a mockmj rule", "ahead": 0, "running": 0, "waiting": 0, "instance_id": "",
                "price": 0, "balance": 0, "task_id": ""}
    return dialect.messages.get(kind, dialect.messages["param"]).format(**defaults)


def apply_rules(mock: Mock, op: Operation, ctx: Context) -> Reply | None:
    if op.public or not mock.engine.rules.any():
        return None  # no rules (the usual case): nothing to match, no request facts to gather
    rule = mock.engine.rules.take(_facts(op, ctx))
    if rule is None:
        return None
    ctx.rule = {k: v for k, v in rule.view().items() if k in ("id", "match", "respond")}
    respond = rule.respond
    if respond.get("latencyMs"):
        mock.pause(respond["latencyMs"] / 1000)  # holds this thread only: see web/delays.py
    if "code" in respond:
        code = int(respond["code"])
        status = int(respond.get("httpStatus") or 200)
        return Reply(status, envelope(code, respond.get("description") or _default_description(mock, code)),
                     headers=_retry_after(respond, status), forced=True)
    if respond.get("httpStatus") and respond["httpStatus"] != 200:
        status = int(respond["httpStatus"])
        reply = http_error(mock.dialect, status, respond.get("description") or f"Forced by mockmj rule {rule.id}",
                           request.path, spring_timestamp())
        reply.headers.update(_retry_after(respond, status))
        reply.forced = True
        return reply
    if respond.get("outcome") and not ctx.caller.outcome:
        ctx.caller.outcome = respond["outcome"]
    if respond.get("callbackFault"):
        ctx.caller.callback_fault = respond["callbackFault"]
        ctx.caller.callback_delay_ms = respond.get("callbackDelayMs")
    return None


def _retry_after(respond: dict[str, Any], status: int) -> dict[str, str]:
    if status == 429 or "retryAfter" in respond:
        return {"Retry-After": str(int(respond.get("retryAfter", 1)))}
    return {}

