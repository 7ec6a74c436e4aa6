"""Simulated Midjourney accounts (where tasks run) and API keys (who pays and how fast they may call).

Accounts make the queue codes real: each has `core_size` concurrent slots and a waiting queue of
`queue_size`, like the proxy's per-account executor (3 and 10 by default). Keys make 25, 401, 403
and 429 real: each has a balance, an optional rate limit and an optional list of operations.
"""

from __future__ import annotations

import copy
import math
import secrets
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

from mockmj.model.masking import masked
from mockmj.model.settings import AccountConfig, Settings
from mockmj.store import ratelimit

NEVER = math.inf


class NoRoom(Exception):
    """Every slot is busy and the waiting queue is at its size: the proxy's executor refuses."""


@dataclass
class Reservation:
    start: int  # when the task leaves NOT_START
    ahead: int  # tasks waiting before this one
    must_wait: bool  # no slot was free at submission
    slot: int


@dataclass
class Account(AccountConfig):
    """An account as the settings describe it (its fields are AccountConfig's, declared once there), with the
    load it carries: when each slot frees, which task holds it, and the tasks waiting for one."""

    slots: list[float] = field(default_factory=list)
    holders: list[str | None] = field(default_factory=list)
    waiting: deque[tuple[float, str]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.channel_id = self.channel_id or self.instance_id  # as in the proxy
        self.reset_load()

    @classmethod
    def configured(cls, a: AccountConfig) -> Account:
        """A fresh account as the settings describe it (no load); its lists are its own."""
        return cls(**{f.name: copy.copy(getattr(a, f.name)) for f in fields(AccountConfig)})

    def reset_load(self) -> None:
        self.slots = [0.0] * self.core_size
        self.holders = [None] * self.core_size
        self.waiting = deque()

    def release(self, task_ids: set[str]) -> None:
        """Give back the slots and queue places of tasks that no longer exist (a tenant's reset)."""
        for i, holder in enumerate(self.holders):
            if holder in task_ids:
                self.slots[i], self.holders[i] = 0.0, None
        self.waiting = deque(w for w in self.waiting if w[1] not in task_ids)

    def matches(self, flt: dict[str, Any] | None) -> bool:
        """accountFilter semantics: blank fields match anything; modes match if any overlaps."""
        if not self.enabled:
            return False
        flt = flt if isinstance(flt, dict) else {}
        if flt.get("instanceId") and str(flt["instanceId"]) != self.instance_id:
            return False
        if flt.get("channelId") and str(flt["channelId"]) != self.channel_id:
            return False
        modes = flt.get("modes") if isinstance(flt.get("modes"), list) else []
        if modes and not {m for m in modes if isinstance(m, str)} & set(self.modes):
            return False
        remark = str(flt.get("remark") or "")
        return not (remark and remark not in self.remark)

    def load(self, now: int) -> tuple[int, int]:
        """(running, waiting) at `now`."""
        while self.waiting and self.waiting[0][0] <= now:
            self.waiting.popleft()
        running = sum(1 for free_at in self.slots if free_at > now)
        return running, len(self.waiting)

    def reserve(self, now: int, dispatch_ms: int, task_id: str) -> Reservation:
        _, waiting = self.load(now)
        slot = min(range(len(self.slots)), key=lambda i: self.slots[i])
        free_at = self.slots[slot]
        must_wait = free_at > now
        if must_wait and waiting >= self.queue_size:
            raise NoRoom
        if free_at == NEVER:
            # Every slot is held by a task that will never finish (a stuck outcome): the task can
            # only wait; it is given a start that never comes.
            start: float = NEVER
        else:
            start = max(now + dispatch_ms, free_at)
        if must_wait:
            self.waiting.append((start, task_id))
        return Reservation(start=int(min(start, 2**62)), ahead=waiting, must_wait=must_wait, slot=slot)

    def occupy(self, reservation: Reservation, free_at: int | None, task_id: str) -> None:
        self.slots[reservation.slot] = NEVER if free_at is None else free_at
        self.holders[reservation.slot] = task_id

    def resize(self, core_size: int) -> None:
        """Change the number of slots; when shrinking, the slots that free soonest are dropped."""
        if core_size > self.core_size:
            self.slots += [0.0] * (core_size - self.core_size)
            self.holders += [None] * (core_size - self.core_size)
        elif core_size < self.core_size:
            keep = sorted(sorted(range(self.core_size), key=lambda i: self.slots[i])[-core_size:])
            self.slots = [self.slots[i] for i in keep]
            self.holders = [self.holders[i] for i in keep]
        self.core_size = core_size

    def describe(self, now: int) -> dict[str, Any]:
        running, waiting = self.load(now)
        return {
            "instanceId": self.instance_id,
            "channelId": self.channel_id,
            "guildId": self.guild_id,
            "modes": self.modes,
            "remix": self.remix,
            "remixAutoSubmit": self.remix_auto_submit,
            "enabled": self.enabled,
            "coreSize": self.core_size,
            "queueSize": self.queue_size,
            "remark": self.remark,
            "running": running,
            "waiting": waiting,
        }


def _fresh_window() -> str:
    return secrets.token_hex(8)


@dataclass
class ApiKey:
    """A key's balance, limit and rights: plain values only, so that a store can pickle it."""

    key: str
    balance: int
    rate_limit: float | None = None  # requests per second; None: unlimited
    allowed_operations: set[str] | None = None  # None: every operation
    # Names the key's rate-limit counts in the process's limiter (store/ratelimit.py). A new ApiKey, or a
    # new limit, takes a new name, so it starts with a full allowance; kept in the record so that every
    # worker sharing the store counts under the same name.
    limit_window: str = field(default_factory=_fresh_window, repr=False, compare=False)

    def _limit_key(self) -> str:
        return f"{self.key}/{self.limit_window}"

    def set_rate_limit(self, rate: float | None) -> None:
        """A new limit starts with a full allowance: its hits are counted under a new name (`limit_window`), and
        the old ones expire with their window in every storage. (Clearing them here would write to the limits'
        storage inside the world's transaction: on SQLite another writer on the same file, which waited for
        that transaction for the whole busy timeout, then failed.)"""
        self.rate_limit = rate
        self.limit_window = _fresh_window()

    def forget_hits(self, limiter: ratelimit.RateLimiter) -> None:
        """Drop the hits counted for this key's limit (the key is being forgotten)."""
        if self.rate_limit:
            limiter.reset(self._limit_key(), self.rate_limit)

    def may_call(self, operation_id: str) -> bool:
        return self.allowed_operations is None or operation_id in self.allowed_operations

    def throttle(self, limiter: ratelimit.RateLimiter | None = None) -> float | None:
        """Count one request against the key's rate limit (in `limiter`, else the process's); the seconds
        to wait when it is used up."""
        if not self.rate_limit:
            return None
        return (limiter or ratelimit.limiter()).hit(self._limit_key(), self.rate_limit)

    def describe(self) -> dict[str, Any]:
        return {
            "key": masked(self.key),
            "balance": self.balance,
            "rateLimit": self.rate_limit,
            "allowedOperations": sorted(self.allowed_operations) if self.allowed_operations else None,
        }


def new_key(settings: Settings, key: str, balance: int | None = None, rate: float | None = None,
            ops: list[str] | None = None) -> ApiKey:
    """A key with the settings' defaults for what is not given."""
    return ApiKey(
        key=key,
        balance=settings.default_balance if balance is None else balance,
        rate_limit=rate if rate is not None else settings.default_rate_limit,
        allowed_operations=set(ops) if ops else None,
    )
