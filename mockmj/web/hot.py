"""The hot path: the requests clients send most (poll a task, submit an imagine) answered in front of Flask.

A fetch is a few microseconds of engine work; Flask's request context, URL map, session, signals and
response object cost several times that. This WSGI middleware recognises the hot routes from the WSGI
environ and runs the very pipeline the Flask views run (web/api.py: auth, body, rules, handler, strict
mode, journal, findings), then writes the same access-log line Flask's hooks would. Everything else, and
every hot request it cannot answer byte for byte as Flask would, goes to Flask untouched:

- a path or method that is not exactly a hot route (HEAD, a trailing slash, an id outside [0-9A-Za-z_-]),
  or an app mounted under a SCRIPT_NAME;
- any control rule present: a rule may delay or answer in Flask's request context (control.apply_rules);
- a body Flask alone frames: chunked, no or a bad Content-Length, or one over the size limit (413).

What it leaves out of Flask's machinery changes nothing for these routes: the app's before_request hooks
are the start time of the access log (kept here) and the dashboard's redirect of `/` (never a hot path),
the after_request hook is the access log (written here), and nothing listens to Flask's signals or uses
the session. tests/web/test_hot_path.py pins those hooks and compares both paths response by response.
An exception (a strict-mode violation, a bug) is handed to Flask's own error handling, as if the view
had raised it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import g
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.utils import get_content_type
from werkzeug.wsgi import get_input_stream

from mockmj.store.base import StoreUnavailable
from mockmj.store.memory import entry_weight
from mockmj.web.api import MODE_OF_PREFIX, answer, api_routes, journal_entry_of
from mockmj.web.exchange import AUTHORIZATION, SECRET, Exchange, api_key_from, origin_of
from mockmj.web.explain import explained_fetch, weighed_request_headers
from mockmj.web.findings_feed import feed_fetch
from mockmj.web.logs import task_log

if TYPE_CHECKING:
    from flask import Flask

    from mockmj.web.logs import RequestLog
    from mockmj.web.mock import Mock
    from mockmj.web.render import Reply
    from mockmj.web.spec import Operation

# Journal entries of fetches of finished tasks kept ready, by path (see `_journal_fetch`): a bound on memory.
FETCH_ENTRIES = 4096
HOT_OPERATIONS = frozenset({"fetchTask", "submitImagine"})
FETCH = "fetchTask"
# A path parameter the hot path takes: task ids and the like. Anything else (percent signs, dots, Unicode)
# is left to werkzeug's routing, which decides what it means.
SEGMENT = "([0-9A-Za-z_-]+)"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Route(NamedTuple):
    op: Operation
    mode: str | None  # the speed mode of a /mj-fast-style prefix
    params: tuple[str, ...]  # names of the path parameters, in order


class HotPath:
    """`app.wsgi_app` of a mock: answers the hot routes itself, hands the rest to `flask` (Flask's own)."""

    def __init__(self, app: Flask, mock: Mock, request_log: RequestLog) -> None:
        self.app = app
        self.flask: WsgiApp = app.wsgi_app
        self.mock = mock
        self.request_log = request_log
        self.max_body = app.config["MAX_CONTENT_LENGTH"]
        self._exact: dict[tuple[str, str], Route] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Route]] = []
        for op, prefix in api_routes(mock):
            if op.operation_id in HOT_OPERATIONS:
                self._add(op, prefix)
        # The fetch of a finished task answered from its kept bytes (see `_finished_fetch`); never in strict
        # mode, which checks every answer against a fresh rendering.
        # One pattern for every prefix's fetch route (/mj, /mj-fast…): one match per request, its id the group
        # that matched.
        fetches = [pattern.pattern for method, pattern, route in self._patterns
                   if method == "GET" and route.op.operation_id == FETCH]
        self._fetch: re.Pattern[str] | None = None
        if fetches and not mock.settings.strict:
            self._fetch = re.compile("|".join(f"(?:{pattern})" for pattern in fetches))
        self._json_type = get_content_type("application/json", "utf-8")
        self._fetch_entries: dict[str, tuple[bytes, dict[str, Any], int]] = {}  # path → (bytes, entry, weight)
        self._fetch_entries_lock = threading.Lock()  # writers only: a read is one dict lookup, atomic under the GIL

    def _add(self, op: Operation, prefix: str) -> None:
        path = prefix + op.path
        names = tuple(re.findall(r"\{(\w+)\}", path))
        route = Route(op, MODE_OF_PREFIX.get(prefix), names)
        if not names:
            self._exact[(op.method, path)] = route
            return
        parts = re.split(r"\{\w+\}", path)
        pattern = re.compile(SEGMENT.join(re.escape(part) for part in parts) + r"\Z")
        self._patterns.append((op.method, pattern, route))

    def route(self, environ: dict[str, Any]) -> tuple[Route, dict[str, str]] | None:
        """The hot route of this request and its path parameters, or None: Flask answers it."""
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if not path.startswith("/mj") or environ.get("SCRIPT_NAME") or self.mock.engine.rules.any():
            return None
        found = self._exact.get((method, path))
        if found is not None:
            return (found, {}) if self._body_is_plain(environ, found.op) else None
        for wanted, pattern, route in self._patterns:
            if wanted == method:
                match = pattern.match(path)
                if match is not None and self._body_is_plain(environ, route.op):
                    return route, dict(zip(route.params, match.groups(), strict=True))
        return None

    def _body_is_plain(self, environ: dict[str, Any], op: Operation) -> bool:
        """A body this path reads as Flask would: a Content-Length within the limit, not chunked."""
        if not op.takes_body:
            return True  # the body, if any, is never read (relays send `null` with their GETs)
        length = environ.get("CONTENT_LENGTH", "")
        return ("HTTP_TRANSFER_ENCODING" not in environ and length.isdigit() and length.isascii()
                and int(length) <= self.max_body)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.mock.engine.request():  # one look at a shared store serves the route's rule check too
                if environ.get("REQUEST_METHOD") == "GET":
                    kept = self._finished_fetch(environ, start_response)
                    if kept is not None:
                        return kept
                found = self.route(environ)
                if found is None:
                    return self.flask(environ, start_response)
                return self._answer(found, environ, start_response)
        except StoreUnavailable:
            # met before any answer began (the catch-up, the rule check): Flask answers, and meets it again
            # unless the store is back: its error handler gives the dialect's 503, logged like any answer
            return self.flask(environ, start_response)

    def _finished_fetch(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        """A fetch of a finished task this worker answered before, from the bytes it kept (web/finished.py):
        the pipeline of `answer`, cut to what such a fetch can meet. The key is checked as `_authorize` checks
        it, ownership and the poll by the engine, then the journal, the findings and the access log get what
        the whole way gives them. None (the whole way answers) for anything else: no bytes kept, no key or one
        the whole way would refuse or rate-limit, control rules or handler hooks present, debug task log on."""
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        match = self._fetch.match(path) if self._fetch is not None else None
        if match is None:
            return None
        mock = self.mock
        engine, finished = mock.engine, mock.finished
        if environ.get("SCRIPT_NAME") or engine.rules.any() or task_log.isEnabledFor(logging.DEBUG):
            return None
        for hook in mock.before_handler:  # a loop, not all(): no generator made per request
            if not getattr(hook, "only_rules", False):
                return None
        read_at = finished.generation
        task_id = match.group(match.lastindex or 1)
        kept = finished.lookup(task_id, origin_of(environ))
        if kept is None:
            return None
        key = api_key_from(environ.get(AUTHORIZATION), environ.get(SECRET))
        if not key:
            return None  # anonymous, or a placeholder key: refused or answered on the whole way
        record = engine.ledger.api_key(key)
        if record is None or record.rate_limit or not record.may_call(FETCH):
            return None  # 401, 403, or a limit to count: the whole way answers it
        if not engine.poll_finished(key, task_id) or finished.generation != read_at:
            return None  # not this key's task, or forgotten meanwhile (a reset may give the id to a new task)
        status, data = kept
        # the journal (a shared store's, perhaps unavailable) before the answer begins: see __call__
        self._journal_fetch(path, task_id, data, key, started, environ)
        feed_fetch(mock, key, path, task_id, status)
        start_response("200 OK", [("Content-Type", self._json_type), ("Content-Length", str(len(data)))])
        if self.request_log.wanted():
            self.request_log.record("GET", path, 200, None, key, started, task_id, environ)
        return [data]

    def _journal_fetch(self, path: str, task_id: str, data: bytes, key: str, started: float,
                       environ: dict[str, Any]) -> None:
        """The journal entry `journal_entry` writes for this fetch, built from the part that is the same at every
        fetch of these bytes on this path (made once, then copied) and the request's own: its time, key,
        latency and headers. Its weight is known from the parts, so the memory store need not walk it."""
        made = self._fetch_entries.get(path)
        if made is None or made[0] is not data:
            template = journal_entry_of(0, "GET", path, b"", FETCH, 200, None, None, 0.0,
                                        explained_fetch({}, data, task_id))
            made = (data, template, entry_weight(template))
            with self._fetch_entries_lock:  # another writer between iter() and next() would break the iteration
                if len(self._fetch_entries) >= FETCH_ENTRIES:
                    self._fetch_entries.pop(next(iter(self._fetch_entries)), None)
                self._fetch_entries[path] = made
        _, template, weight = made
        headers, size = weighed_request_headers(environ)
        entry = template.copy()  # the parts shared with the template are never changed in place
        entry["time"] = self.mock.engine.now()
        entry["key"] = key
        entry["latencyMs"] = round((time.perf_counter() - started) * 1000, 2)
        entry["requestHeaders"] = headers
        self.mock.journal.record(entry, weight + len(key) + size)

    def _answer(self, found: tuple[Route, dict[str, str]], environ: dict[str, Any],
                start_response: StartResponse) -> Iterable[bytes]:
        route, params = found
        exchange = Exchange(environ, environ["REQUEST_METHOD"], environ["PATH_INFO"], params,
                            read_body=lambda: get_input_stream(environ, max_content_length=self.max_body).read())
        try:
            reply = answer(self.mock, route.op, route.mode, exchange)
        except Exception as exc:
            return self._as_flask_would(exc, exchange, environ, start_response)
        body = reply.body()
        start_response(status_line(reply.status), wsgi_headers(reply, len(body)))
        if self.request_log.wanted():
            self.request_log.record(exchange.method, exchange.path, reply.status, reply,
                                    exchange.key or exchange.api_key(), exchange.started, params.get("id"), environ)
        return [body]

    def _as_flask_would(self, exc: Exception, exchange: Exchange, environ: dict[str, Any],
                        start_response: StartResponse) -> Iterable[bytes]:
        """Answer an exception the pipeline raised exactly as Flask answers one its view raised: its error
        handlers (the dialect's 500), its exception log, its after_request hooks (the access log).
        Called while `exc` is being handled, so that Flask's bare `raise` and its traceback find it."""
        app = self.app
        ctx = app.request_context(environ)
        error: BaseException | None = None
        try:
            ctx.push()
            g.mockmj_exchange, g.mockmj_started = exchange, exchange.started  # as the view and logs would have
            try:
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as unhandled:
                error = unhandled
                response = app.handle_exception(unhandled)
            except BaseException:
                error = sys.exc_info()[1]
                raise
            return response(environ, start_response)  # type: ignore[no-any-return]
        finally:
            if error is not None and app.should_ignore_error(error):
                error = None
            ctx.pop(error)


def status_line(status: int) -> str:
    """The status line werkzeug writes for a numeric status ("404 NOT FOUND")."""
    phrase = HTTP_STATUS_CODES.get(status)
    return f"{status} {phrase.upper()}" if phrase else f"{status} UNKNOWN"


def wsgi_headers(reply: Reply, length: int) -> list[tuple[str, str]]:
    """The headers of `Response(body, status, mimetype)` with the reply's headers set on it: a header the
    reply names again replaces the first of that name in place, as werkzeug's `headers[name] = value`."""
    headers = [("Content-Type", get_content_type(reply.mimetype, "utf-8")), ("Content-Length", str(length))]
    for name, value in reply.headers.items():
        lower = name.lower()
        same = [i for i, (existing, _) in enumerate(headers) if existing.lower() == lower]
        if same:
            headers[same[0]] = (name, value)
            for i in reversed(same[1:]):
                del headers[i]
        else:
            headers.append((name, value))
    return headers
