"""Rate limits shared by processes through a SQLite file or a redis-server: the limit's worth of hits gets
through, whichever process makes them (the limiter itself is tested in tests/engine/test_ratelimit.py)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from limits import RateLimitItemPerHour
from limits.strategies import MovingWindowRateLimiter

from mockmj.store.ratelimit import RateLimiter


# -------------------------------------------------------------------------------- across processes
def _hammer(storage_uri: str, key: str, how: str, count: int, start: object, results: object) -> None:
    """In another process: `count` hits of `key` once every process is ready; how many got through."""
    limiter = RateLimiter(storage_uri)
    strategy = MovingWindowRateLimiter(limiter.storage)
    item = RateLimitItemPerHour(20)
    start.wait()  # type: ignore[attr-defined]
    if how == "window":
        allowed = sum(strategy.hit(item, key) for _ in range(count))
    else:
        allowed = sum(limiter.hit(key, 0.001) is None for _ in range(count))
    results.put(allowed)  # type: ignore[attr-defined]
    limiter.close()


@pytest.mark.parametrize("shared", ["sqlite", "redis"])
@pytest.mark.parametrize(("how", "limit"), [("window", 20), ("rate", 1)])
def test_processes_sharing_a_store_share_each_limit(shared: str, how: str, limit: int, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    uri = f"sqlite:{tmp_path / 'mock.db'}" if shared == "sqlite" else str(request.getfixturevalue("fresh_redis"))
    key = f"shared-{how}-{time.time_ns()}"
    context = multiprocessing.get_context("spawn")
    processes = 3
    start, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_hammer, args=(uri, key, how, 15, start, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    allowed = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sum(allowed) == limit, allowed  # 45 tries, the limit's worth of them through, whichever process
