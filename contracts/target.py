"""The target under test: where it is, which keys to use, what it is expected to speak.

The only import of mockmj in the suite is here, to start the in-process default target. Against a
URL, the only mockmj-specific request is GET /_mockmj/health, to learn whether the target is a
mockmj (then the suite may use a second key and the loopback callback receiver automatically).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from .client import Budget, Client, Counters, Spacer, Watcher
from .dialects import EXPECTATIONS, Expectations
from .options import Options
from .receiver import Receiver

MOCK_KEYS = ("contract-key-1", "contract-key-2")


class TargetUnusable(Exception):
    """The suite cannot talk to the target as configured."""


@dataclass
class Target:
    base_url: str
    api_key: str | None
    second_key: str | None
    dialect: str
    dialect_source: str
    is_mockmj: bool
    in_process: bool
    local: bool
    mock_info: dict[str, Any] = field(default_factory=dict)
    # what a mockmj says of its auth in /_mockmj/health: "keys" (only listed keys), "any-key" (any
    # non-empty key), "none" (no key needed); None for another target, which says nothing of itself
    auth: str | None = None
    receiver: Receiver | None = None
    receiver_note: str = ""
    server: Any = None  # the in-process MockServer

    @property
    def expect(self) -> Expectations:
        return EXPECTATIONS[self.dialect]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "dialect": self.dialect,
            "dialect_source": self.dialect_source,
            "is_mockmj": self.is_mockmj,
            "in_process": self.in_process,
            "local": self.local,
            "mock": self.mock_info,
            "auth": self.auth or "(not reported)",
            "callbacks": self.receiver.base_url if self.receiver else self.receiver_note,
        }

    def close(self) -> None:
        if self.receiver:
            self.receiver.close()
        if self.server is not None:
            self.server.stop()


def probe_mockmj(base_url: str) -> dict[str, Any] | None:
    try:
        resp = requests.get(f"{base_url}/_mockmj/health", timeout=10)
    except requests.RequestException as exc:
        raise TargetUnusable(f"{base_url} cannot be reached: {exc}") from exc
    try:
        data = resp.json() if resp.status_code == 200 else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("status") == "ok" else None


def start_target(opts: Options) -> Target:
    if opts.in_process:
        from mockmj.serve.inprocess import start_mock  # the one import of the mock, for the default target

        dialect = opts.dialect or "88api"
        server = start_mock(dialect=dialect, timing=opts.mock_timing, seed=opts.seed if opts.seed is not None
                            else 1, api_keys=list(MOCK_KEYS))
        target = Target(base_url=server.base_url.rstrip("/"), api_key=MOCK_KEYS[0], second_key=MOCK_KEYS[1],
                        dialect=dialect, dialect_source="--mj-dialect" if opts.dialect else "default",
                        is_mockmj=True, in_process=True, local=True,
                        mock_info={"timing": opts.mock_timing, "api_keys": "restricted to the suite's two keys"},
                        auth="keys", server=server)
    else:
        assert opts.base_url is not None
        info = probe_mockmj(opts.base_url)
        if opts.dialect:
            dialect, source = opts.dialect, "--mj-dialect"
        elif info and info.get("dialect") in EXPECTATIONS:
            dialect, source = str(info["dialect"]), "reported by the mockmj target"
        else:
            dialect, source = "88api", "default"
        if info and info.get("auth") == "keys" and not opts.api_key:
            raise TargetUnusable(f"{opts.base_url} is a mockmj that accepts only the keys it was given "
                                 "(/_mockmj/health auth \"keys\"): pass one of them as the key "
                                 "(--api-key, or --mj-api-key under pytest)")
        api_key = opts.api_key or (MOCK_KEYS[0] if info else None)
        if api_key is None:
            raise TargetUnusable(f"{opts.base_url} is not a mockmj (no /_mockmj/health): pass --mj-api-key "
                                 "(or MJ_API_KEY)")
        second = opts.second_key or (f"contract-key-{secrets.token_hex(4)}" if info else None)
        target = Target(base_url=opts.base_url, api_key=api_key, second_key=second, dialect=dialect,
                        dialect_source=source, is_mockmj=info is not None, in_process=False, local=opts.local,
                        mock_info=info or {}, auth=str(info["auth"]) if info and info.get("auth") else None)
    attach_receiver(target, opts)
    return target


def attach_receiver(target: Target, opts: Options) -> None:
    if opts.hook_url:
        listen = opts.hook_listen
        if listen:
            host, _, port = listen.rpartition(":")
        else:
            parts = urlsplit(opts.hook_url)
            host, port = "0.0.0.0", str(parts.port or (443 if parts.scheme == "https" else 80))
        target.receiver = Receiver(host or "0.0.0.0", int(port), public_url=opts.hook_url)
    elif target.local:
        target.receiver = Receiver("127.0.0.1", 0)
    else:
        target.receiver_note = "no --mj-hook-url: the target cannot reach a receiver"


def make_client(target: Target, opts: Options, budget: Budget, spacer: Spacer, counters: Counters,
                watchers: tuple[Watcher, ...] = ()) -> Client:
    return Client(target.base_url, target.api_key, target.dialect, budget, spacer, counters,
                  timeout=10.0 if target.local else 60.0, watchers=watchers)
