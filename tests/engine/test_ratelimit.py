"""Rate limits of API keys (store/ratelimit.py): the windows a rate becomes, the limiter in each storage
(memory, SQLite, a real Redis), counts shared by processes, and ApiKey's use of it."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockmj.engine import codec
from mockmj.engine.accounts import ApiKey
from mockmj.store import ratelimit
from mockmj.store.ratelimit import RateLimiter, open_storage, windows


def window(item: object) -> tuple[int, int] | None:
    return None if item is None else (item.amount, item.get_expiry())  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ windows
@pytest.mark.parametrize(("rate", "sustained", "burst"), [
    (1, (1, 1), None),
    (2, (2, 1), None),
    (0.5, (1, 2), None),
    (0.25, (1, 4), None),
    (0.001, (1, 1000), None),
    (2.5, (5, 2), (3, 1)),  # 5 per 2 s on average, never more than 3 in a second
    (1.5, (3, 2), (2, 1)),
    (0.3, (3, 10), (1, 3)),  # 3 per 10 s, never 2 within 3 s
])
def test_windows_of_a_rate(rate: float, sustained: tuple[int, int], burst: tuple[int, int] | None) -> None:
    plan = windows(rate)
    assert (window(plan.sustained), window(plan.burst)) == (sustained, burst)


@pytest.mark.parametrize("rate", [0.0007, 0.013, 0.123456, 0.3, 0.7, 0.999, 1.01, 3.3, 7.77, 42.5, 1234.5, 1e6])
def test_windows_keep_the_rate_and_the_burst(rate: float) -> None:
    plan = windows(rate)
    hits, seconds = window(plan.sustained) or (0, 0)
    assert abs(hits / seconds - rate) <= 1e-3 * rate  # the average is the rate
    allowed_burst = max(1, math.ceil(rate))
    if plan.burst is None:
        assert hits <= allowed_burst
    else:
        burst_hits, burst_seconds = window(plan.burst) or (0, 0)
        assert burst_hits == allowed_burst
        assert burst_hits / burst_seconds >= rate  # the burst window never slows the average down


@pytest.mark.parametrize("rate", [0, -1, math.nan, -math.inf])
def test_a_rate_is_above_zero(rate: float) -> None:
    with pytest.raises(ValueError, match="above 0"):
        windows(rate)


def test_unknown_storage_is_refused() -> None:
    with pytest.raises(ValueError, match="no rate limit storage"):
        open_storage("memcached://127.0.0.1:11211")
    with pytest.raises(ValueError, match="file path"):
        open_storage("sqlite:")


# ----------------------------------------------------------------------------- the limiter, per storage
@pytest.fixture(params=["memory", "sqlite", "redis"])
def storage_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'mock.db'}"
    return str(request.getfixturevalue("fresh_redis"))


@pytest.fixture
def limiter(storage_uri: str) -> Iterator[RateLimiter]:
    made = RateLimiter(storage_uri)
    made.storage.reset()  # the module's Redis server is shared by the tests
    yield made
    made.close()


def test_a_burst_of_the_rate_then_a_wait(limiter: RateLimiter) -> None:
    assert [limiter.hit("k", 2) for _ in range(2)] == [None, None]
    wait = limiter.hit("k", 2)
    assert wait is not None and 0 < wait <= 1


def test_a_fractional_rate(limiter: RateLimiter) -> None:
    assert limiter.hit("k", 0.5) is None
    wait = limiter.hit("k", 0.5)
    assert wait is not None and 1 < wait <= 2


def test_a_fractional_rate_above_one_has_a_burst_of_whole_requests(limiter: RateLimiter) -> None:
    answers = [limiter.hit("k", 2.5) for _ in range(4)]
    assert answers[:3] == [None, None, None]
    assert answers[3] is not None and 0 < answers[3] <= 1


def test_keys_are_apart_and_a_reset_gives_the_allowance_back(limiter: RateLimiter) -> None:
    assert limiter.hit("a", 0.001) is None
    assert limiter.hit("a", 0.001) is not None
    assert limiter.hit("b", 0.001) is None
    limiter.reset("a", 0.001)
    assert limiter.hit("a", 0.001) is None


def test_a_refused_request_is_not_counted(limiter: RateLimiter) -> None:
    assert [limiter.hit("k", 5) for _ in range(5)] == [None] * 5
    waits = [limiter.hit("k", 5) for _ in range(10)]
    assert all(w is not None and 0 < w <= 1 for w in waits)
    time.sleep(max(w for w in waits if w is not None) + 0.05)
    assert [limiter.hit("k", 5) for _ in range(5)] == [None] * 5  # the refusals took nothing


def test_an_infinite_rate_is_no_limit(limiter: RateLimiter) -> None:
    assert all(limiter.hit("k", math.inf) is None for _ in range(20))


# ---------------------------------------------------------------------------------------- ApiKey
@pytest.fixture
def process_limiter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RateLimiter]:
    """The process's limiter in a SQLite file for this test, the previous one back afterwards."""
    monkeypatch.setattr(ratelimit, "_current", None)
    configured = ratelimit.configure(f"sqlite:{tmp_path / 'mock.db'}")
    assert ratelimit.limiter() is configured
    yield configured
    configured.close()


def test_an_api_key_is_plain_data_and_copies_share_its_limit(process_limiter: RateLimiter) -> None:
    record = ApiKey(key="sk-a", balance=10, rate_limit=0.001, allowed_operations={"fetchTask"})
    copy = codec.loads(codec.dumps(record))  # as another worker would load it from the store
    assert copy == record
    assert record.throttle() is None
    assert copy.throttle() is not None  # the same count, kept in the SQLite file


def test_a_new_limit_starts_full_and_a_new_key_too(process_limiter: RateLimiter) -> None:
    record = ApiKey(key="sk-a", balance=10, rate_limit=0.001)
    assert record.throttle() is None and record.throttle() is not None
    record.set_rate_limit(0.001)  # the same limit again: a full allowance all the same
    assert record.throttle() is None and record.throttle() is not None
    record.set_rate_limit(None)
    assert all(record.throttle() is None for _ in range(5))
    record.set_rate_limit(0.001)
    assert record.throttle() is None and record.throttle() is not None
    again = ApiKey(key="sk-a", balance=10, rate_limit=0.001)  # a tenant's reset makes the key anew
    assert again.throttle() is None
