"""The envelopes, rendered through the dialect, as compact JSON (see model/jsonio.py for why compact)."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from mockmj.engine.facade import Accepted
from mockmj.model.dialects import Dialect
from mockmj.model.errors import Refusal
from mockmj.model.jsonio import compact


@dataclass
class Reply:
    """What a handler answers; the app turns it into a Flask response (and journals it)."""

    status: int = 200
    payload: Any = None
    empty: bool = False  # send no body at all (Spring's answer for an unknown task)
    raw: bytes | None = None
    mimetype: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    forced: bool = False  # made by a control rule: any status on purpose, so not checked by strict mode
    rendered: bytes | None = None  # the payload's JSON when it was rendered before (a finished task)

    @property
    def code(self) -> int | None:
        return self.payload.get("code") if isinstance(self.payload, dict) else None

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.empty:
            return b""
        if self.rendered is not None:
            return self.rendered
        return compact(self.payload)


def envelope(code: int, description: str, result: Any = None, properties: dict[str, Any] | None = None) -> dict:
    return {"code": code, "description": description, "result": result, "properties": properties or {}}


def accepted(dialect: Dialect, outcome: Accepted) -> Reply:
    description = dialect.messages[outcome.kind].format(**outcome.params)
    return Reply(200, envelope(dialect.code(outcome.kind), description, outcome.result, outcome.properties))


def refused(dialect: Dialect, refusal: Refusal) -> Reply:
    status = dialect.status_for(refusal)
    return Reply(status, envelope(dialect.code(refusal.kind), dialect.describe(refusal), None, refusal.properties))


# Spring's reason phrases where they differ from Python's (the proxy runs on Spring Boot 2).
SPRING_PHRASES = {413: "Payload Too Large"}
_KNOWN = {s.value for s in HTTPStatus}


def http_error(dialect: Dialect, status: int, description: str, path: str, timestamp: str,
               explain: bool = False) -> Reply:
    """An HTTP-level refusal (bad JSON, unknown path, auth) in the dialect's shape.

    `explain`: a limit of the mock's own (size, depth, Unicode); Spring bodies then carry the
    `message` that Spring Boot adds with `server.error.include-message=always`, so the client learns why.
    """
    if status == 401 and dialect.auth_body == "empty":
        return Reply(401, empty=True)
    if dialect.error_body == "spring":
        phrase = SPRING_PHRASES.get(status) or (HTTPStatus(status).phrase if status in _KNOWN else "Error")
        body = {"timestamp": timestamp, "status": status, "error": phrase, "path": path}
        if explain and description:
            body["message"] = description
        return Reply(status, body)
    # an envelope carries the HTTP status as its code, but a 400 is the dialect's parameter error
    code = dialect.code("param") if status == 400 else status
    return Reply(status, envelope(code, description))
