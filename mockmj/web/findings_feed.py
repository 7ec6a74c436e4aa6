"""Feeds the findings tracker (engine/findings.py) from what the web layer answered, one `Seen` per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockmj.engine.calls import ANONYMOUS
from mockmj.engine.findings import Seen
from mockmj.engine.journal import billable
from mockmj.model.dialects import Dialect

if TYPE_CHECKING:
    from mockmj.web.exchange import Exchange
    from mockmj.web.mock import Mock
    from mockmj.web.render import Reply
    from mockmj.web.spec import Operation

LISTS = frozenset({"listTasksByCondition", "listTasksByIds"})
NO_TASK = frozenset({"uploadDiscordImages"})  # billable, but its result is image URLs, not a task
# the refusals that resending unchanged cannot cure (429 and queue-full can: the client should retry later)
REFUSAL_KINDS = ("param", "not_found", "account_unavailable", "account_disabled", "insufficient_balance", "banned")


def _retry_after(reply: Reply) -> float | None:
    try:
        return float(reply.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


_REFUSAL_CODES: dict[str, frozenset[int]] = {}


def _refusal_codes(dialect: Dialect) -> frozenset[int]:
    """The business codes of REFUSAL_KINDS in a dialect, worked out once per dialect."""
    codes = _REFUSAL_CODES.get(dialect.name)
    if codes is None:
        codes = _REFUSAL_CODES[dialect.name] = frozenset(dialect.code(kind) for kind in REFUSAL_KINDS)
    return codes


def _status_of(mock: Mock, owner: str, task_id: Any) -> str | None:
    return mock.engine.status_for(owner, str(task_id).strip())


def feed_fetch(mock: Mock, key: str, path: str, task_id: str, task_status: str) -> None:
    """What `feed` sees of a 200 fetch answered with a finished task's kept bytes (the hot path)."""
    mock.findings.observe_fetch(key, path, task_id, task_status)


def feed(mock: Mock, op: Operation, reply: Reply, exchange: Exchange) -> None:
    owner = exchange.key or ANONYMOUS
    payload = reply.payload
    seen = Seen(key=owner, kind="other", method=exchange.method, path=exchange.path, status=reply.status,
                code=reply.code, retry_after=_retry_after(reply) if reply.headers else None)
    if op.operation_id == "fetchTask":
        seen.kind = "fetch"
        seen.task_id = exchange.path_params.get("id")
        seen.task_status = payload.get("status") if isinstance(payload, dict) else None
    elif op.operation_id in LISTS:
        seen.kind = "list"
        seen.task_ids = tuple(str(t.get("id")) for t in payload if isinstance(t, dict)) if isinstance(
            payload, list) else ()
    elif billable(exchange.method, op.path) and op.operation_id not in NO_TASK:
        body = exchange.body or {}  # parsed by the body reader (None when it refused the bytes)
        seen.kind = "action" if op.operation_id == "submitAction" else "submit"
        seen.body = exchange.raw
        seen.callback = bool(body.get("notifyHook") or mock.settings.notify_hook)
        result = payload.get("result") if isinstance(payload, dict) else None
        refused_codes = _refusal_codes(mock.dialect)
        seen.refused = (400 <= reply.status < 500 and reply.status != 429) or (
            reply.code in refused_codes and not result)
        if not seen.refused and isinstance(result, str) and result:
            seen.created = result
        if seen.kind == "action" and body.get("taskId") is not None:
            seen.task_id = str(body["taskId"])
            seen.parent_status = _status_of(mock, owner, body["taskId"])
    mock.findings.observe(seen)
