"""Rate limits of API keys, counted by the `limits` library where the mock's state is kept.

`RateLimiter(storage_uri).hit(key, rate)` answers None (let the request through) or the seconds to wait
(the 429's Retry-After). The counts live in the storage the URI names, so that every worker process that
shares a store shares each key's limit:

- `memory://` (the default; `memory` too): this process only;
- `sqlite:PATH`: a table in that SQLite file (see `SQLiteStorage`), for workers on one host;
- `redis://HOST:PORT/DB` (`rediss://`, `unix://` too): limits' own Redis storage, for several hosts.

A rate is requests per second, fractional ones included (0.5 is one request every two seconds). The
strategy is limits' moving window, which counts the hits of the last N seconds exactly, per key and
atomically in each storage. A moving window of A hits per W whole seconds has a burst of A, so a rate is
kept by up to two windows (see `windows`): one whose average is the rate (within 0.1 %), and, when that
one would allow a bigger burst than the rate itself, a short one that keeps the burst at max(1, rate)
rounded up to a whole request, as a token bucket of that size would.

Real (wall-clock) time, never the mock's clock: a limit is about how fast requests really arrive, and a
test that advances the virtual clock must not refill it.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockmj.store.faults import guard_faults
from mockmj.store.sqlite_file import SqliteFile

if TYPE_CHECKING:  # limits is imported when a rate limit is first used (see RateLimiter)
    from limits import RateLimitItem
    from limits.storage import Storage
    from limits.strategies import MovingWindowRateLimiter

# the relative error allowed between a window's average and the rate asked for
RATE_TOLERANCE = 1e-3
# what the shortest wait is said to be when a window frees up right as it is read (never 0: a 429 waits)
MIN_WAIT = 0.001


# ------------------------------------------------------------------------------------- the windows
@dataclass(frozen=True)
class Windows:
    """How one rate is enforced: `sustained` keeps the average, `burst` (when needed) the burst."""

    sustained: RateLimitItem
    burst: RateLimitItem | None


def _average_window(rate: float) -> tuple[int, int]:
    """(hits, seconds), both whole, whose ratio is `rate` within RATE_TOLERANCE, with the fewest hits.

    At most 500 tries: from 500 hits (rate < 1) or 500 seconds (rate ≥ 1) on, rounding alone is within
    0.1 %.
    """
    for n in range(1, 501):
        hits, seconds = (n, max(1, round(n / rate))) if rate < 1 else (max(1, round(rate * n)), n)
        if abs(hits / seconds - rate) <= RATE_TOLERANCE * rate:
            return hits, seconds
    raise AssertionError(f"no window for {rate}")  # unreachable, see above


@functools.lru_cache(maxsize=256)
def windows(rate: float) -> Windows:
    """The moving windows of a rate (requests per second, above 0).

    2 → 2 hits per second; 0.5 → 1 per 2 s; 0.001 → 1 per 1000 s: one window does both jobs. 2.5 → 5 per
    2 s, with at most 3 per second; 0.3 → 3 per 10 s, with at most 1 per 3 s.
    """
    if not rate > 0 or math.isinf(rate):
        raise ValueError(f"a rate limit is a number of requests per second above 0, not {rate}")
    from limits import RateLimitItemPerSecond

    hits, seconds = _average_window(rate)
    sustained = RateLimitItemPerSecond(hits, seconds)
    burst_hits = max(1, math.ceil(rate * (1 - 1e-9)))  # a rate of 2.0000000001 (float noise) is 2
    if hits <= burst_hits:
        return Windows(sustained, None)  # the average window's burst is no bigger than the rate's own
    # a burst of burst_hits in the shortest whole-second window that does not slow the average down
    burst_seconds = max(1, math.floor(burst_hits / rate))
    return Windows(sustained, RateLimitItemPerSecond(burst_hits, burst_seconds))


# -------------------------------------------------------------------------------------- the limiter
class RateLimiter:
    """Per-key rate limits kept in one storage (see the module's docstring for the URIs)."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self._storage: Storage | None = None  # opened at the first rate limit used: most mocks use none
        self._opening = threading.Lock()
        if storage_uri.startswith("sqlite:"):
            self._open()  # a file that cannot be opened fails here, at start

    def _open(self) -> Storage:
        from limits.strategies import MovingWindowRateLimiter

        storage = open_storage(self.storage_uri)
        self._strategy_: MovingWindowRateLimiter = MovingWindowRateLimiter(storage)
        # published last: a thread that finds the storage set (and takes no lock) finds the strategy set too
        self._storage = storage
        return storage

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            with self._opening:
                if self._storage is None:
                    return self._open()
        return self._storage

    @property
    def _strategy(self) -> MovingWindowRateLimiter:
        self.storage  # noqa: B018 (opened on first use)
        return self._strategy_

    def hit(self, key: str, rate_per_second: float) -> float | None:
        """Count one request of `key` under its rate: None when it may go through, else the seconds
        until it may (nothing is counted then)."""
        if math.isinf(rate_per_second) and rate_per_second > 0:
            return None
        plan = windows(rate_per_second)
        # The burst window is tested before the average one is hit, and hit only after it: a refused
        # request uses up neither. Only the average window's hit is atomic across processes; two
        # processes racing may both pass the burst test (the average still holds).
        if plan.burst is not None and not self._strategy.test(plan.burst, key):
            return self._wait(plan.burst, key)
        if not self._strategy.hit(plan.sustained, key):
            return self._wait(plan.sustained, key)
        if plan.burst is not None:
            self._strategy.hit(plan.burst, key)
        return None

    def reset(self, key: str, rate_per_second: float) -> None:
        """Forget the hits of `key` under that rate: its next request starts a full allowance."""
        if math.isinf(rate_per_second):
            return
        plan = windows(rate_per_second)
        for item in (plan.sustained, plan.burst):
            if item is not None:
                self._strategy.clear(item, key)

    def _wait(self, item: RateLimitItem, key: str) -> float:
        reset_at = self._strategy.get_window_stats(item, key).reset_time
        return max(reset_at - time.time(), MIN_WAIT)

    def close(self) -> None:
        from mockmj.store.ratelimit_sqlite import SQLiteStorage

        if isinstance(self._storage, SQLiteStorage):
            self._storage.close()

    def __repr__(self) -> str:
        return f"RateLimiter({self.storage_uri!r})"


def open_storage(storage_uri: str) -> Storage:
    """The limits storage of a URI; `memory`, `sqlite:PATH` and `unix://` are the mock's `store` forms."""
    from limits.storage import MemoryStorage, Storage, storage_from_string

    if storage_uri in ("memory", "memory://"):
        return MemoryStorage()
    if storage_uri.startswith("sqlite:"):
        from mockmj.store.ratelimit_sqlite import SQLiteStorage

        path = storage_uri[len("sqlite:"):]
        if not path.strip():
            raise ValueError("sqlite: needs a file path (sqlite:PATH)")
        return SQLiteStorage(path)
    if storage_uri.startswith("unix://"):
        storage_uri = "redis+" + storage_uri  # limits' name for redis over a unix socket
    if storage_uri.startswith(("redis://", "rediss://", "redis+unix://")):
        storage = storage_from_string(storage_uri)
        assert isinstance(storage, Storage)
        return storage
    raise ValueError(f"no rate limit storage for {storage_uri!r}: memory://, sqlite:PATH or redis://HOST:PORT/DB")


# The process's limiter, used by ApiKey.throttle: memory until the server configures its store.
_current: RateLimiter | None = None
_current_guard = threading.Lock()


def configure(storage_uri: str) -> RateLimiter:
    """Make the process's rate limits live in that storage (call once at start, with the `store` setting)."""
    global _current
    fresh = RateLimiter(storage_uri)
    with _current_guard:
        previous, _current = _current, fresh
    if previous is not None:
        previous.close()
    return fresh


def limiter() -> RateLimiter:
    """The process's limiter (an in-memory one unless `configure` was called)."""
    global _current
    with _current_guard:
        if _current is None:
            _current = RateLimiter()
        return _current


# ------------------------------------------------------------------------------ when keys were last used
_ACTIVITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS key_activity (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS key_activity_by_time ON key_activity (at);
"""
ACTIVITY_KEY = "mockmj:key-activity"  # Redis: a sorted set, key → when last used (wall-clock seconds)
# Redis: take the members last used before ARGV[1] out of the set, atomically, and return them (so that of two
# workers sweeping at once, each idle key goes to one)
_CLAIM_IDLE = """
local idle = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #idle > 0 then redis.call('ZREM', KEYS[1], unpack(idle)) end
return idle
"""


class KeyActivity:
    """When each API key was last used, kept where the rate limits are, so that every worker of a shared store
    sees the others' uses: `touch` marks a use, `claim_idle` takes the keys unused since a time out of the
    record and returns them (each to one caller only, also across processes), for the caller to forget.

    A table of the SQLite file (a periodic delete) or a Redis sorted set (one atomic script); with the memory
    store there is one process, and the ledger keeps the uses itself. At most one row per key: a key unused
    long enough is claimed, and its row goes with it."""

    def __init__(self, storage_uri: str) -> None:
        self.url = storage_uri  # named in a StoreUnavailable (store/faults.py)
        self._file: SqliteFile | None = None
        self._redis: Any = None
        if storage_uri.startswith("sqlite:"):
            self._file = SqliteFile(storage_uri[len("sqlite:"):], _ACTIVITY_SCHEMA)
        else:
            import redis

            url = "unix://" + storage_uri[len("unix://"):] if storage_uri.startswith("unix://") else storage_uri
            self._redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)  # as RedisStore
            self._claim = self._redis.register_script(_CLAIM_IDLE)

    def touch(self, keys: dict[str, float]) -> None:
        """Mark uses: key → when (wall-clock seconds); a later use already marked is kept."""
        if not keys:
            return
        if self._file is not None:
            with self._file.write() as db:
                db.executemany("INSERT INTO key_activity (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                               "SET at = MAX(at, excluded.at)", list(keys.items()))
        else:
            self._redis.zadd(ACTIVITY_KEY, keys, gt=True)

    def claim_idle(self, before: float, limit: int = 1000) -> list[str]:
        """The keys (at most `limit`) last used before `before`, taken out of the record."""
        if self._file is not None:
            with self._file.write() as db:
                rows = db.execute("SELECT key FROM key_activity WHERE at < ? LIMIT ?", (before, limit)).fetchall()
                db.executemany("DELETE FROM key_activity WHERE key = ?", rows)
            return [key for (key,) in rows]
        return [k.decode() if isinstance(k, bytes) else str(k) for k in self._claim(keys=[ACTIVITY_KEY],
                                                                                       args=[before, limit])]

    def count(self) -> int:
        """How many keys are on record (a bound to check)."""
        if self._file is not None:
            return int(self._file.connection().execute("SELECT COUNT(*) FROM key_activity").fetchone()[0])
        return int(self._redis.zcard(ACTIVITY_KEY))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._redis is not None:
            self._redis.close()


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The driver errors a KeyActivity can meet: Redis's only once a Redis one was made (which imported it)."""
    redis = sys.modules.get("redis")
    return (sqlite3.Error, redis.RedisError) if redis is not None else (sqlite3.Error,)


guard_faults(KeyActivity, _driver_errors)  # a store that fails: StoreUnavailable, as from the store itself
