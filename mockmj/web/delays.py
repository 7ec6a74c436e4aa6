"""Simulated latency (a control rule's `latencyMs`) without starving the requests that have none.

WSGI is synchronous: a request the mock delays sleeps in the server thread that called the app, and
nothing inside a WSGI app can hand that thread back while it waits. A server whose pool is as small as
the threads that work (granian with `--blocking-threads 8`, as `mockmj serve` gives it `--threads`)
answers nothing else once 8 requests sleep: WireMock fell from over 5,000 to 170 requests/s that way, and
`mockmj serve` measured 8 requests/s with twenty 2-second delays in flight. So the pool has room for the
sleeping requests on top of the working ones, `--spare-threads` of them (64 by default):

- granian starts its blocking threads on demand, up to the count it is given: `serving_threads(settings)`
  is that count. At rest it costs nothing, and `serving_threads` → 5,467 fetches per second with the
  twenty delays in flight.
- Under load it costs throughput: granian hands each request to whichever of its threads is free, so with
  32 clients at once 32 threads hold requests and take turns at the GIL, and every turn is a hand-over
  between threads. On two cores a fetch of a finished task measured 1.2 to 1.4 times as many answers per
  second with one thread in all (`--threads 1 --spare-threads 0`) as with 72 (benchmarks/bench_limits.py).
  Holding the working requests to a few with a lock or a semaphore in the app did not win it back (each
  request is then handed between threads once more). Hence a setting: a mock that simulates no delay and
  serves no slow client may go without spare threads (docs/performance.md).
- werkzeug's threaded server (the in-process mocks of the test suite and the pytest plugin) runs one
  thread per connection: nothing to size.

tests/serve/test_delays_dont_block.py holds both to it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mockmj.model.settings import Settings


def serving_threads(settings: Settings) -> int:
    """The server threads (granian: blocking threads per worker) of a mock whose code runs on `threads`: those
    plus room for requests sleeping a simulated delay or waiting for a slow client (`spare_threads`)."""
    return settings.threads + settings.spare_threads


def pause(seconds: float) -> None:
    """A simulated delay: the request sleeps in its own thread (the server must have others to spare)."""
    time.sleep(seconds)
