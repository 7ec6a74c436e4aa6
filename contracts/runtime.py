"""Session-wide state of one contract run (one run per process), shared by the plugin and the tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from .checks import check_error_envelope
from .clauses import Recorder
from .client import Budget, Client, Counters, Spacer
from .coverage import Coverage
from .exchange import Exchange
from .observe import Observer
from .options import Options
from .target import Target, make_client, start_target


@dataclass
class Run:
    opts: Options
    rec: Recorder = field(default_factory=Recorder)
    counters: Counters = field(default_factory=Counters)
    coverage: Coverage = field(default_factory=Coverage)
    budget: Budget = field(init=False)
    spacer: Spacer = field(init=False)
    _target: Target | None = None
    _target_error: str | None = None
    _client: Client | None = None
    _observer: Observer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.budget = Budget(self.opts.budget)
        self.spacer = Spacer(self.opts.rate)

    @property
    def started(self) -> bool:
        return self._target is not None

    def target(self) -> Target:
        with self._lock:
            if self._target is None:
                if self._target_error:
                    raise RuntimeError(self._target_error)
                try:
                    self._target = start_target(self.opts)
                except Exception as exc:
                    self._target_error = f"could not start or reach the target: {exc!r}"
                    raise
            return self._target

    def usable_target(self) -> Target:
        """The target, or the end of the session with the reason (no key, unreachable, mock failed)."""
        try:
            return self.target()
        except Exception as exc:
            pytest.exit(f"contract suite: cannot use the target: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)

    def client(self) -> Client:
        if self._client is None:
            target = self.target()

            def envelope(ex: Exchange) -> None:
                check_error_envelope(self.rec, ex, target.expect)

            self._client = make_client(target, self.opts, self.budget, self.spacer, self.counters,
                                       (self.coverage.see, envelope))
        return self._client

    def observer(self) -> Observer:
        if self._observer is None:
            t = self.target()
            self._observer = Observer(self.rec, t.expect, t.local, self.opts.task_timeout)
        return self._observer

    def close(self) -> None:
        if self._target is not None:
            self._target.close()


RUN: Run | None = None


def current() -> Run:
    if RUN is None:
        raise RuntimeError("the contract suite's plugin is not configured (run `mockmj contract`, or "
                           "`pytest contracts` from a clone)")
    return RUN
