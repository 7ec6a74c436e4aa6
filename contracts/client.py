"""The only way the suite talks to a target: counts billable requests, keeps the budget, spaces requests.

Billable means "can cost money on a paid API": every POST under /mj/submit/ and to
/mj/insight-face/swap, whatever its body or key (a relay may charge for a refused submission too).
The budget is checked *before* sending, so it can never be exceeded; schemathesis cases are sent
through the same client.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from .dialects import EXPECTATIONS
from .exchange import Exchange  # defined apart so that dialects.py can use it without importing this module

BILLABLE_PATH = re.compile(r"^(?:/mj-[a-z]+)?/mj/(?:submit/[^/]+|insight-face/swap)/?$")


def operation_of(path: str) -> str:
    """The path template a request belongs to, for the per-operation counts of the report."""
    path = re.sub(r"^((?:/mj-[a-z]+)?/mj/task)/[^/]+/(fetch|image-seed|cancel)$", r"\1/{id}/\2", path)
    if path.startswith("/attachments/"):
        return "/attachments/{image}"
    return path


def is_billable(method: str, path: str) -> bool:
    return method.upper() == "POST" and bool(BILLABLE_PATH.match(path.split("?", 1)[0]))


class BudgetExhausted(pytest.skip.Exception):
    """Raised instead of sending a billable request the budget does not allow (reported as not run)."""


class Budget:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self.refused = 0
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return float("inf") if self.limit is None else self.limit - self.used

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                self.refused += 1
                return False
            self.used += 1
            return True


class Spacer:
    """Evenly spaces requests: at most `rate` per second, no bursts."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


@dataclass
class Counters:
    requests: int = 0
    billable: int = 0
    by_path: dict[str, int] = field(default_factory=dict)


Watcher = Callable[[Exchange], None]


class Client:
    """HTTP to one target with one key; `budget`, `spacer` and `counters` are shared by all clients."""

    def __init__(self, base_url: str, key: str | None, dialect: str, budget: Budget, spacer: Spacer,
                 counters: Counters, timeout: float = 30.0, watchers: tuple[Watcher, ...] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.dialect = dialect
        self.budget = budget
        self.spacer = spacer
        self.counters = counters
        self.timeout = timeout
        self.watchers = watchers  # see every exchange of the run: coverage, the error-envelope clause
        self.session = requests.Session()
        self._lock = threading.Lock()

    def with_key(self, key: str | None) -> Client:
        return Client(self.base_url, key, self.dialect, self.budget, self.spacer, self.counters, self.timeout,
                      self.watchers)

    def auth_headers(self, key: str | None = None) -> dict[str, str]:
        key = self.key if key is None else key
        if not key:
            return {}
        return EXPECTATIONS[self.dialect].key_headers(key)

    def url(self, path: str) -> str:
        return path if re.match(r"https?://", path) else self.base_url + path

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
                headers: dict[str, str] | None = None, auth: bool = True, params: dict[str, Any] | None = None,
                **extra: Any) -> Exchange:
        sent_headers: dict[str, str] = {"Accept": "application/json"}
        if auth:
            sent_headers.update(self.auth_headers())
        if headers:
            sent_headers.update(headers)
        kwargs: dict[str, Any] = {"headers": sent_headers, "params": params}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            sent_headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            kwargs["data"] = data
        kwargs.update(extra)
        resp = self.send_raw(method, path, **kwargs)
        return self.exchange(resp, json_body if json_body is not None else data)

    def send_raw(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send one request: keeps the budget (before sending), the spacing and the counts."""
        method = method.upper()
        absolute = bool(re.match(r"https?://", path_or_url))
        path = urlsplit(path_or_url).path if absolute else path_or_url
        if is_billable(method, path):
            if not self.budget.take():
                raise BudgetExhausted(f"billable budget exhausted (--mj-budget {self.budget.limit})")
            with self._lock:
                self.counters.billable += 1
        kwargs.setdefault("timeout", self.timeout)
        self.spacer.wait()
        with self._lock:
            self.counters.requests += 1
            key = f"{method} {operation_of(path)}"
            self.counters.by_path[key] = self.counters.by_path.get(key, 0) + 1
        return self.session.request(method, path_or_url if absolute else self.url(path_or_url), **kwargs)

    def exchange(self, resp: requests.Response, request_body: Any = None) -> Exchange:
        req_path = urlsplit(resp.request.url or "").path if resp.request is not None else ""
        ex = Exchange(method=(resp.request.method or "") if resp.request is not None else "", path=req_path,
                      status=resp.status_code, body=resp.content,
                      headers={k.lower(): v for k, v in resp.headers.items()}, request_body=request_body,
                      elapsed=resp.elapsed.total_seconds())
        for watch in self.watchers:
            watch(ex)
        return ex

    def get(self, path: str, **kw: Any) -> Exchange:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Exchange:
        return self.request("POST", path, json_body=body, **kw)

    def download(self, url: str) -> Exchange:
        """Fetch a media URL as a client app would: no key. A URL that is not absolute raises RelativeUrl:
        a client cannot know what a relative URL is relative to (URL-1), so the suite never guesses."""
        if not is_absolute(url):
            raise RelativeUrl(f"media URL {url!r} is not an absolute http(s) URL")
        return self.request("GET", url, auth=False, headers={"Accept": "image/*,*/*"})


class RelativeUrl(ValueError):
    """A media URL the target handed out is not absolute."""


def is_absolute(url: object) -> bool:
    return isinstance(url, str) and bool(re.match(r"https?://[^/\s]+", url))
