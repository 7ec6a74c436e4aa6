"""`mockmj record`: a proxy in front of a live deployment that records and validates every exchange.

Every request is forwarded to the target as it came (minus hop-by-hop headers). With a target key the
client's key is replaced by it, so the tests that drive the recorder hold only dummy keys; without one
the client's key passes through. Each answer is checked by the Validator, written to the HAR with its
violations, and every image or video it points to is downloaded once into media/. Keys are redacted
before anything is written. The recorder's own route is `GET /_mockmj/violations`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from mockmj.engine.journal import billable
from mockmj.model.dialects import DIALECTS
from mockmj.model.errors import Refusal
from mockmj.record.har import Exchange, RecordingWriter
from mockmj.record.redact import Redactor
from mockmj.record.validate import RULES, Validator
from mockmj.serve.inprocess import MockServer
from mockmj.web.exchange import header_names

log = logging.getLogger("mockmj.record")

# RFC 9110 §7.6.1 hop-by-hop headers, plus the ones the forwarding itself recomputes.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
                        "content-encoding"})
KEY_HEADERS = ("authorization", "mj-api-secret")
VIOLATIONS_PATH = "/_mockmj/violations"
StartResponse = Callable[..., Any]
MODE_PREFIX = re.compile(r"^/mj-[a-z]+(?=/mj/)")


def is_billable(method: str, path: str) -> bool:
    """A submission, with or without a mode prefix (/mj-fast/mj/submit/… costs as much as /mj/submit/…)."""
    return billable(method, MODE_PREFIX.sub("", urlsplit(path).path))


def client_key(headers: list[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.lower() in KEY_HEADERS:
            value = value.strip()
            return value[7:].strip() if value.lower().startswith("bearer ") else value
    return None


def media_urls(payload: Any, under: str = "") -> Iterator[str]:
    """Absolute URLs the answer points to: values of keys ending in Url / Urls (imageUrl, videoUrl…)."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            yield from media_urls(value, key.lower())
    elif isinstance(payload, list):
        for item in payload:
            yield from media_urls(item, under)
    elif isinstance(payload, str) and under.endswith(("url", "urls")) and payload.startswith(("http://", "https://")):
        yield payload


class Recorder:
    """The WSGI app of the recorder."""

    def __init__(self, target: str, out: str | Path, dialect: str = "88api", target_key: str | None = None,
                 budget: int | None = None, timeout: float = 120.0) -> None:
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"--target must be an http(s) URL, not {target!r}")
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
        if budget is not None and budget < 0:
            raise ValueError("--budget must be 0 or more billable requests")
        if target_key is not None and not target_key.strip():
            raise ValueError("the target key is empty")
        self.target = target.rstrip("/")
        self.dialect = DIALECTS[dialect]
        self.target_key = target_key
        self.budget = budget
        self.spent = 0
        self.timeout = timeout
        self.redactor = Redactor([target_key] if target_key else [])
        self.validator = Validator(dialect)
        parts = urlsplit(self.target)
        self.writer = RecordingWriter(out, {
            "dialect": dialect,
            "target": f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}",
            "targetKey": "set" if target_key else "passed through",
            "budget": budget,
        })
        self._local = threading.local()  # one requests.Session per worker thread
        self._lock = threading.Lock()

    @property
    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            # no .netrc credentials slipped in; proxies from the environment are applied per URL (no_proxy kept)
            session.trust_env = False
        return session

    # ------------------------------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        if path == VIOLATIONS_PATH and method == "GET":
            return _json(start_response, 200, self.validator.listing())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _request_headers(environ)
        self.redactor.learn(client_key(headers))
        started, clock = datetime.now(UTC), time.perf_counter()
        recorded = not path.startswith("/_mockmj/")
        local = self._over_budget(method, path) if recorded else None
        if local is not None:
            status, reason, out_headers, out_body = local
        else:
            try:
                status, reason, out_headers, out_body = self._forward(method, path, query, headers, body)
            except requests.RequestException as exc:
                why = f"mockmj record: the target {self.target} did not answer {method} {path}: {exc}"
                log.error("%s", why)
                return _json(start_response, 502, {"code": self.dialect.code("system"), "description": why,
                                                   "result": None, "properties": {}})
        if recorded:
            self._record(started, time.perf_counter() - clock, method, path, query, headers, body,
                         status, reason, out_headers, out_body)
        start_response(f"{status} {reason}", [*out_headers, ("Content-Length", str(len(out_body)))])
        return [out_body]

    def _over_budget(self, method: str, path: str) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        """A billable request past --budget is refused here, in the dialect's envelope, and costs nothing."""
        if self.budget is None or not is_billable(method, path):
            return None
        with self._lock:
            if self.spent < self.budget:
                self.spent += 1
                return None
        refusal = Refusal("insufficient_balance", f"mockmj record: the budget of {self.budget} billable "
                                                  "request(s) is spent")
        envelope = {"code": self.dialect.code("insufficient_balance"), "description": self.dialect.describe(refusal),
                    "result": None, "properties": {"mockmjBudget": self.budget}}
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return 200, "OK", [("Content-Type", "application/json")], body

    def _forward(self, method: str, path: str, query: str, headers: list[tuple[str, str]],
                 body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        forwarded = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        if self.target_key is not None:
            used = next((k for k, _ in forwarded if k.lower() in KEY_HEADERS), None)
            forwarded = [(k, v) for k, v in forwarded if k.lower() not in KEY_HEADERS]
            if (used or "").lower() == "mj-api-secret" or (used is None and self.dialect.auth_body == "empty"):
                forwarded.append(("mj-api-secret", self.target_key))
            else:
                forwarded.append(("Authorization", f"Bearer {self.target_key}"))
        url = self.target + path + (f"?{query}" if query else "")
        answer = self.http.request(method, url, headers=dict(forwarded), data=body or None, timeout=self.timeout,
                                   allow_redirects=False, proxies=get_environ_proxies(url))
        out_headers = [(k, v) for k, v in answer.raw.headers.items() if k.lower() not in HOP_BY_HOP]
        return answer.status_code, answer.reason or "", out_headers, answer.content

    # ------------------------------------------------------------------------------------- recording
    def _record(self, started: datetime, seconds: float, method: str, path: str, query: str,
                headers: list[tuple[str, str]], body: bytes, status: int, reason: str,
                out_headers: list[tuple[str, str]], out_body: bytes) -> None:
        r = self.redactor
        mime = next((v for k, v in out_headers if k.lower() == "content-type"), "")
        url = r.text(self.target + path + (f"?{query}" if query else ""))
        found = self.validator.check(method, path, status, mime, out_body)
        if status == 200 and "json" in mime:
            try:
                payload = json.loads(out_body)
            except ValueError:
                payload = None
            for media in dict.fromkeys(media_urls(payload)):
                found += self._keep_media(media)
        excerpt = r.text(out_body[:300].decode("utf-8", "replace"))
        violations = [self._violation(rule, detail, method, url, status, excerpt) for rule, detail in found]
        self.writer.add(Exchange(
            started=started, elapsed_ms=seconds * 1000, method=method, url=url,
            request_headers=r.headers(headers), request_body=r.data(body),
            status=status, reason=reason, response_headers=r.headers(out_headers),
            response_body=r.data(out_body), violations=violations,
        ))

    def _keep_media(self, url: str) -> list[tuple[str, str]]:
        redacted = self.redactor.text(url)
        if self.writer.has_media(redacted):
            return []
        try:
            answer = self.http.get(url, timeout=self.timeout, proxies=get_environ_proxies(url))
        except requests.RequestException as exc:
            return [("media-decodes", f"GET {redacted} failed: {exc}")]
        mime = answer.headers.get("Content-Type", "application/octet-stream")
        problems = self.validator.check_media(redacted, answer.status_code, mime, answer.content)
        if answer.status_code == 200:
            self.writer.add_media(redacted, answer.content, mime)
        return problems

    def _violation(self, rule: str, detail: str, method: str, url: str, status: int, body: str) -> dict[str, Any]:
        known = RULES[rule]
        violation = self.validator.keep({
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "rule": rule, "clause": known.clause, "detail": self.redactor.text(detail),
            "request": {"method": method, "url": url},
            "response": {"status": status, "body": body},
        })
        log.warning("violation %s (%s): %s — %s %s → %s", rule, known.clause, violation["detail"], method, url,
                    status)
        return violation


def _request_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    sent = set(header_names(environ))
    names = [name for name in environ if name in sent]  # in the environ's order, as the client sent them
    headers = [(name[5:].replace("_", "-").title(), environ[name]) for name in names if name.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if key in names and environ[key]:
            headers.append((name, environ[key]))
    return headers


def _json(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    phrase = {200: "OK", 502: "Bad Gateway"}.get(status, "Error")
    start_response(f"{status} {phrase}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class RecorderServer(MockServer):
    """A recorder on a loopback port in a background thread (tests, the pytest plugin)."""

    @property
    def recorder(self) -> Recorder:
        return self.app  # type: ignore[no-any-return]

    def _release(self) -> None:
        self.recorder.writer.close()


def start_recorder(target: str, out: str | Path, host: str = "127.0.0.1", port: int = 0, threads: int = 8,
                   **options: Any) -> RecorderServer:
    return RecorderServer(Recorder(target, out, **options), host, port, threads)



