"""What the journal keeps of one request so the dashboard can explain it: the request's headers, the
response's status, headers and the start of its body, the rule that matched and the task it touched.

Every part is bounded (a header value, the number of headers, a body's first characters) so that an entry
stays small and the journal, capped by bytes, keeps many of them; secrets are masked before they are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockmj.model.masking import SECRET_HEADERS, masked_header
from mockmj.store.memory import text_size
from mockmj.web.exchange import CONTENT_HEADERS, header_names

if TYPE_CHECKING:
    from mockmj.web.render import Reply

BODY_CHARS = 300  # of a request's or a response's body
HEADER_CHARS = 200  # of one header value
MAX_HEADERS = 24  # a client sending more is rare; the rest are counted, not kept
TEXT_TYPES = ("application/json", "application/yaml", "text/")


def summary(raw: bytes | None, mimetype: str = "application/json") -> str | None:
    """The first characters of a body; a binary body (an image) only by its size and type."""
    if not raw:
        return None
    if not mimetype.startswith(TEXT_TYPES) and not mimetype.endswith("+json"):
        return f"({len(raw)} bytes of {mimetype})"
    text = raw[:BODY_CHARS].decode("utf-8", "replace")
    return text + ("…" if len(raw) > BODY_CHARS else "")


# A header's usual spelling from its WSGI name ("HTTP_USER_AGENT" → "User-Agent") and whether it carries a
# credential, worked out once per name: clients send the same few headers again and again. Bounded, so that
# made-up header names cannot grow it.
_NAMES: dict[str, tuple[str, bool]] = {}
MAX_NAMES = 512
# Masked credentials by their value, for the same reason (a client sends its one key at every request).
_MASKED: dict[tuple[str, str], str] = {}
MAX_MASKED = 256


def _header_name(wsgi_name: str) -> tuple[str, bool]:
    known = _NAMES.get(wsgi_name)
    if known is None:
        name = "-".join(part.capitalize() for part in wsgi_name.removeprefix("HTTP_").split("_"))
        known = (name, name.lower() in SECRET_HEADERS)
        if len(_NAMES) < MAX_NAMES:
            _NAMES[wsgi_name] = known
    return known


def _masked(name: str, value: str) -> str:
    shown = _MASKED.get((name, value))
    if shown is None:
        shown = masked_header(name, value)
        if len(_MASKED) < MAX_MASKED:
            _MASKED[(name, value)] = shown
    return shown


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as the client sent them (names in their usual spelling), masked and bounded."""
    return weighed_request_headers(environ)[0]


# The headers of requests already seen, by their names and values, with the length of their texts (the
# journal's weight): a client polling its task sends the same headers at every request, so the masking and
# the weighing are done once (for each order the names come in). Bounded (emptied when full); the dicts are
# shared and never changed in place.
_SEEN: dict[tuple[tuple[str, Any], ...], tuple[dict[str, str], int]] = {}
MAX_SEEN = 256


def weighed_request_headers(environ: dict[str, Any]) -> tuple[dict[str, str], int]:
    """`request_headers`, and the length of its texts (store/memory.py, `text_size`)."""
    sent = tuple([(name, environ[name]) for name in header_names(environ)])
    known = _SEEN.get(sent)
    if known is None:
        headers = _kept_headers(sent)
        known = (headers, text_size(headers))
        if len(_SEEN) >= MAX_SEEN:
            _SEEN.clear()
        _SEEN[sent] = known
    return known


def _kept_headers(sent: tuple[tuple[str, Any], ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    extra = 0
    for wsgi_name, value in sorted(sent):
        if not value and wsgi_name in CONTENT_HEADERS:
            continue
        if len(headers) >= MAX_HEADERS:
            extra += 1
            continue
        name, secret = _header_name(wsgi_name)
        value = str(value)
        if secret:
            value = _masked(name, value)
        headers[name] = value if len(value) <= HEADER_CHARS else value[:HEADER_CHARS]
    if extra:
        headers["(more)"] = f"{extra} more headers not kept"
    return headers


def response_headers(reply: Reply, length: int) -> dict[str, str]:
    """The headers the answer carries besides the server's own (Date, Server)."""
    kind = reply.mimetype + ("; charset=utf-8" if reply.mimetype.startswith(TEXT_TYPES) else "")
    headers = {"Content-Type": kind, "Content-Length": str(length)}
    headers.update({name: value[:HEADER_CHARS] for name, value in list(reply.headers.items())[:MAX_HEADERS]})
    return headers


def task_touched(path_params: dict[str, str], body: dict[str, Any] | None, reply: Reply) -> str | None:
    """The task a request created (a submission's result), or the one it was about (path or body)."""
    payload = reply.payload
    if isinstance(payload, dict):
        result = payload.get("result")
        if isinstance(result, str) and result.isdigit() and "code" in payload:
            return result
    if path_params.get("id"):
        return path_params["id"]
    task_id = (body or {}).get("taskId")
    return str(task_id)[:64] if isinstance(task_id, str | int) and task_id != "" else None


def explained_fetch(environ: dict[str, Any], data: bytes, task_id: str) -> dict[str, Any]:
    """What `journal` keeps of a fetch answered from a finished task's kept bytes (no Reply to read)."""
    return {"refused": False, "requestHeaders": request_headers(environ),
            "responseHeaders": {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data))},
            "responseBody": summary(data), "rule": None, "taskId": task_id}
