"""What the journal keeps of one request so the dashboard can explain it: the request's headers, the
response's status, headers and the start of its body, the rule that matched and the task it touched.

Every part is bounded (a header value, the number of headers, a body's first characters) so that an entry
stays small and the journal, capped by bytes, keeps many of them; secrets are masked before they are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockmj.model.masking import SECRET_HEADERS, masked_header

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


# A header's usual spelling from its WSGI name ("HTTP_USER_AGENT" → "User-Agent"), worked out once per name:
# clients send the same few headers again and again. Bounded, so that made-up header names cannot grow it.
_NAMES: dict[str, str] = {}
MAX_NAMES = 512


def _header_name(wsgi_name: str) -> str:
    name = _NAMES.get(wsgi_name)
    if name is None:
        name = "-".join(part.capitalize() for part in wsgi_name.removeprefix("HTTP_").split("_"))
        if len(_NAMES) < MAX_NAMES:
            _NAMES[wsgi_name] = name
    return name


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as the client sent them (names in their usual spelling), masked and bounded."""
    headers: dict[str, str] = {}
    extra = 0
    for wsgi_name, value in environ.items():
        if not (wsgi_name.startswith("HTTP_") or (wsgi_name in ("CONTENT_TYPE", "CONTENT_LENGTH") and value)):
            continue
        if len(headers) >= MAX_HEADERS:
            extra += 1
            continue
        name = _header_name(wsgi_name)
        value = str(value)
        if name.lower() in SECRET_HEADERS:
            value = masked_header(name, value)
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
