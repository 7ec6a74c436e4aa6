"""Keys and money: who may call, how fast, what a submission costs, and the credits a failure gives back."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from mockmj.engine.accounts import ApiKey, new_key
from mockmj.engine.world import World
from mockmj.model.errors import InsufficientBalance, Refusal
from mockmj.model.modes import price_in_mode
from mockmj.model.tasks import Action, Task
from mockmj.store.base import StoreUnavailable
from mockmj.store.ratelimit import KeyActivity, RateLimiter

log = logging.getLogger("mockmj.store")


class Ledger:
    def __init__(self, world: World, forget_key: Callable[[str], None]) -> None:
        self.world = world
        self.settings = world.settings
        # rate limits count where the state lives: in this process's memory, or in the shared store, so
        # that a key's limit holds across workers
        self.limiter = RateLimiter(self.settings.store if world.store.shared else "memory://")
        self._forget_key = forget_key  # the engine's reset of one tenant: sweeps idle any-key keys
        self.key_seen: dict[str, float] = {}  # any-key mode: key → when it was last used (monotonic s)
        self._last_sweep = time.monotonic()
        world.on_reload.append(self.key_seen.clear)
        # any-key mode on a shared store: when each key was last used is kept in the store (wall-clock seconds,
        # which every worker reads alike), marked by each worker at most once per sweep interval and key
        self.activity = KeyActivity(self.settings.store) if world.store.shared and not self.settings.keys else None
        self.clock: Callable[[], float] = time.time
        self._marked: dict[str, float] = {}  # key → when this worker last marked its use in the store
        self._shared_sweep = -math.inf
        self._marks = threading.Lock()  # a leaf lock: never held while the store is called
        world.on_reload.append(self._forget_marks)

    def close(self) -> None:
        self.limiter.close()
        if self.activity is not None:
            self.activity.close()

    # ----------------------------------------------------------------------------- keys
    def api_key(self, key: str) -> ApiKey | None:
        """The key's record; any key is welcome unless the settings list the accepted ones."""
        world = self.world
        if world.replica is None and not self.settings.keys:
            # in memory, one hold of the lock for the look-up and the use: every API request asks, and each
            # separate hold is one more place where the server's many threads can find the lock taken and queue
            with world.lock:
                found = self._joined(key)
                if found is not None:
                    self._note_use(key)
                return found
        with world.reading():
            found = world.key(key)
        if found is None and not self.settings.keys and key:
            with world.transaction():
                found = self._joined(key)
        replica = world.replica  # any-key mode in memory returned above: here, a shared store, or listed keys
        if (found is not None and not self.settings.keys and replica is not None
                and not (replica.writing and _held(world.lock))):  # not from inside a transaction
            self._note_shared_use(key)
        return found

    def _joined(self, key: str) -> ApiKey | None:
        """Any-key mode, called holding the world's lock or a transaction: the key's record, a first use
        joining with the defaults (an empty key never joins)."""
        found = self.world.key(key)
        if found is None and key:
            found = new_key(self.settings, key)
            self.world.put_key(found)
        return found

    def _note_use(self, key: str) -> None:
        """Any-key mode: remember when a key was used; now and then forget the keys unused for long
        (their tasks, uploads and balance), so that a stream of throwaway keys cannot fill memory."""
        now = time.monotonic()
        self.key_seen[key] = now
        idle = self.settings.idle_key_seconds
        if now - self._last_sweep < min(60.0, idle / 4):
            return
        self._last_sweep = now
        for stale in [k for k, seen in self.key_seen.items() if now - seen > idle]:
            self._forget_key(stale)

    def _forget_marks(self) -> None:
        """The store was reloaded (a reset, a restart of the store): every use is marked again."""
        with self._marks:
            self._marked.clear()

    def _note_shared_use(self, key: str) -> None:
        """_note_use with a shared store: the use is marked in the store (another worker may be serving the key
        too); now and then the keys no worker has used for `idle_key_seconds` are claimed from the store, each by
        one worker, and forgotten. A mark may lag a use by up to the sweep interval, so a key is forgotten no sooner
        than `idle_key_seconds` less that interval unused, at the first sweep after (sweeps come with requests, at
        most once an interval)."""
        assert self.activity is not None
        now, idle = self.clock(), self.settings.idle_key_seconds
        every = min(60.0, idle / 4)
        with self._marks:
            mark = now - self._marked.get(key, -math.inf) >= every
            if mark:
                self._marked[key] = now
            sweep = now - self._shared_sweep >= every
            if sweep:
                self._shared_sweep = now
                # only the marks of this interval matter: the dict holds the keys used lately, no more
                for stale in [k for k, at in self._marked.items() if now - at >= every]:
                    del self._marked[stale]
        try:
            if mark:
                self.activity.touch({key: now})
            stale = self.activity.claim_idle(now - idle) if sweep else []
        except StoreUnavailable as exc:  # marked at the next use, swept at the next interval
            log.warning("idle keys: %s", exc)
            with self._marks:
                if self._marked.get(key) == now:
                    del self._marked[key]
            return
        for n, old in enumerate(stale):
            try:
                self._forget_key(old)
            except StoreUnavailable as exc:  # the rest go back on record, to be claimed at a later sweep
                log.warning("idle keys: %s", exc)
                with contextlib.suppress(StoreUnavailable):
                    self.activity.touch({k: now - idle - 1 for k in stale[n:]})
                return

    def restore_key(self, key: str) -> None:
        """A tenant's reset: a configured key gets its configured values back, an ad-hoc key goes (it
        comes back with the defaults when next used)."""
        self.key_seen.pop(key, None)
        record = self.world.key(key)
        if record is not None and self.world.replica is None:
            # the limits' memory storage keeps a name per key until cleared; a shared storage's counts expire by
            # themselves (and nothing is written to it inside a transaction, see ApiKey.set_rate_limit)
            record.forget_hits(self.limiter)
        configured = next((k for k in self.settings.keys if k.key == key), None)
        if configured is None:
            self.world.drop_key(key)
        else:
            self.world.put_key(new_key(self.settings, key, configured.balance, configured.rate_limit,
                                       configured.allowed_operations))

    def throttle(self, record: ApiKey) -> float | None:
        """Count a request of this key against its rate limit; the seconds to wait when it is used up."""
        return record.throttle(self.limiter)

    def update_key(self, key: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change a key's balance, rateLimit and allowedOperations at once; None: no such key."""
        if self.api_key(key) is None:
            return None
        with self.world.transaction():
            record = self.world.key(key)
            if record is None:
                return None
            if "balance" in changes:
                record.balance = changes["balance"]
            if "rateLimit" in changes:
                record.set_rate_limit(changes["rateLimit"])
            if "allowedOperations" in changes:
                ops = changes["allowedOperations"]
                record.allowed_operations = set(ops) if ops is not None else None
            return record.describe()

    # ----------------------------------------------------------------------------- money
    def balance(self, key: str) -> int:
        with self.world.transaction():
            self.apply_refunds()
            record = self.api_key(key)
            return record.balance if record else 0

    def key_views(self) -> list[dict[str, Any]]:
        with self.world.transaction():
            self.apply_refunds()
            return [k.describe() for k in self.world.keys_in_order()]

    def price(self, action: Action, mode: str) -> int:
        """The action's price times its mode's factor (settings mode_prices)."""
        return price_in_mode(int(self.settings.prices.get(action.value, 0)), mode, self.settings.mode_prices)

    def check_mode(self, key: str, mode: str) -> None:
        """A key configured with `modes` may run only those (a relay refuses the rest with HTTP 403)."""
        allowed = next((k.modes for k in self.settings.keys if k.key == key), None)
        if allowed is not None and mode not in allowed:
            raise Refusal("mode_forbidden", f"this API key may not use {mode} mode (it may use "
                          f"{', '.join(allowed) or 'none'})", params={"mode": mode})

    def check_balance(self, key: str, price: int) -> ApiKey:
        record = self.api_key(key)
        self.apply_refunds()
        if record is None or record.balance < price:
            raise InsufficientBalance(price, record.balance if record else 0)
        return record

    def charge(self, record: ApiKey, task: Task, price: int) -> None:
        record.balance -= price
        task.price = price

    def apply_refunds(self) -> None:
        for task_id in self.world.due_refunds(self.world.now()):
            task = self.world.task(task_id)
            if task is not None:
                self.refund(task)

    def refund(self, task: Task) -> None:
        if task.refunded or not task.price:
            return
        task.refunded = True
        record = self.world.key(task.owner)
        if record is not None:
            record.balance += task.price


def _held(lock: Any) -> bool:
    """Whether this thread holds the engine's RLock (threading.Condition asks an RLock the same way)."""
    owned = getattr(lock, "_is_owned", None)
    return bool(owned()) if owned is not None else True
