"""One API request as the web layer reads it: method, path, headers from the WSGI environ, the body once
read, and the key it was made with.

Both ways a request reaches a handler build one: the Flask view (web/app.py) and the hot path in front of
Flask (web/hot.py). Nothing here reads Flask's request proxies or `g`, so the same code serves both.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.http import parse_options_header
from werkzeug.sansio.utils import get_current_url
from werkzeug.wsgi import get_host

# What clients send when their key variable is unset or empty: a mock should catch that bug, not hide it.
PLACEHOLDER_KEYS = frozenset({"", "undefined", "null", "none", "nil", "bearer"})
# The headers the API reads, by their WSGI names (how werkzeug's EnvironHeaders finds them).
AUTHORIZATION, SECRET = "HTTP_AUTHORIZATION", "HTTP_MJ_API_SECRET"
OUTCOME_HEADER, FAULT_HEADER = "X-MockMJ-Outcome", "X-MockMJ-Callback-Fault"
OUTCOME, FAULT = "HTTP_X_MOCKMJ_OUTCOME", "HTTP_X_MOCKMJ_CALLBACK_FAULT"


CONTENT_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")  # the two headers a WSGI environ names without HTTP_
# granian's environ starts from a copy of the process environment (granian/wsgi.py, `basic_env`), so a
# server variable named like a header (HTTP_PROXY, say) would read as one, and the ~50 variables would be
# looked at on every request. The variables as they were when mockmj was loaded, and the CGI names every
# server sets, are set aside in one C-level set difference; a variable a request's header shadows (same name,
# another value) still counts as a header.
_SERVER_ENVIRONMENT = dict(os.environ)
_NOT_HEADERS = frozenset(_SERVER_ENVIRONMENT) | {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
    "REMOTE_ADDR", "REMOTE_PORT", "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "RAW_URI", "REQUEST_URI", "wsgi.version",
    "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
    "wsgi.input_terminated", "wsgi.file_wrapper", "werkzeug.socket", "werkzeug.request"}
_SHADOWABLE = tuple(name for name in _SERVER_ENVIRONMENT if name.startswith("HTTP_") or name in CONTENT_HEADERS)


def header_names(environ: dict[str, Any]) -> list[str]:
    """The WSGI names of the request's headers (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH), in no set order."""
    names = [name for name in environ.keys() - _NOT_HEADERS if name.startswith("HTTP_") or name in CONTENT_HEADERS]
    for name in _SHADOWABLE:
        if name in environ and environ[name] != _SERVER_ENVIRONMENT[name]:
            names.append(name)
    return names


def api_key_from(authorization: str | None, secret: str | None) -> str | None:
    """The key from `Authorization: Bearer K` or `mj-api-secret: K` (a `Bearer ` prefix tolerated).

    A header that is present but holds no real key (`Bearer `, `undefined`, `null`, `None`) gives "":
    the caller tried to authenticate and failed, which is not the same as sending no key at all.
    """
    placeholder = False
    for raw in (authorization, secret):
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


def api_key_of(headers: Any) -> str | None:
    """`api_key_from` of a header mapping (Flask's `request.headers`)."""
    return api_key_from(headers.get("Authorization"), headers.get("mj-api-secret"))


# The base URL of a request, as werkzeug's `request.host_url` computes it (host validated, default port
# dropped), without its trailing slash. Working it out costs more than the rest of a fetch's parsing, and
# clients send the same few Host headers again and again: remembered, up to a bound that hostile Host
# headers cannot grow past.
_ORIGINS: dict[tuple[Any, ...], str] = {}
_ORIGINS_LOCK = threading.Lock()
MAX_ORIGINS = 256


def origin_of(environ: dict[str, Any]) -> str:
    seen = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"))
    origin = _ORIGINS.get(seen)
    if origin is None:
        origin = get_current_url(environ["wsgi.url_scheme"], get_host(environ)).rstrip("/")
        with _ORIGINS_LOCK:
            if len(_ORIGINS) >= MAX_ORIGINS:
                _ORIGINS.clear()
            _ORIGINS[seen] = origin
    return origin


def _no_body() -> bytes:
    return b""


@dataclass(slots=True)
class Exchange:
    """A request on its way through the API layer; what it read and found is kept for the journal,
    the findings and the access log."""

    environ: dict[str, Any]
    method: str
    path: str
    path_params: dict[str, str]
    read_body: Callable[[], bytes] = _no_body  # the body's bytes, read on demand and bounded by the reader
    started: float = field(default_factory=time.perf_counter)
    raw: bytes = b""  # what the body reader read; nothing for GETs or bodies refused unread
    body: dict[str, Any] | None = None  # the parsed body, once it passed the limits (schema or not)
    key: str | None = None  # the caller's key once authorised (None: anonymous or refused)
    rule: dict[str, Any] | None = None  # the control rule that matched it, as the rules listing shows it

    @property
    def origin(self) -> str:
        return origin_of(self.environ)

    def api_key(self) -> str | None:
        return api_key_from(self.environ.get(AUTHORIZATION), self.environ.get(SECRET))

    def header(self, wsgi_name: str) -> str | None:
        return self.environ.get(wsgi_name)

    @property
    def content_type(self) -> str | None:
        return self.environ.get("CONTENT_TYPE")

    @property
    def mimetype(self) -> str:
        """As werkzeug's `request.mimetype`: the Content-Type without parameters, lower case."""
        return parse_options_header(self.environ.get("CONTENT_TYPE", ""))[0].lower()
