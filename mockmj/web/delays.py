"""Simulated latency (a control rule's `latencyMs`) without starving the requests that have none.

WSGI is synchronous: a request the mock delays sleeps in the server thread that called the app, and
nothing inside a WSGI app can hand that thread back while it waits. A server whose pool is as small as
the threads that work (granian with `--blocking-threads 8`, as `mockmj serve` gives it `--threads`)
answers nothing else once 8 requests sleep: WireMock fell from over 5,000 to 170 requests/s that way, and
`mockmj serve` measured 8 requests/s with twenty 2-second delays in flight. So the pool must have room
for the sleeping requests on top of the working ones:

- granian starts its blocking threads on demand, up to the count it is given: `serving_threads(threads)`
  is that count. At rest it costs nothing; with 32 clients at once on 2 cores, 72 threads answered ~10%
  fewer fetches per second than 8 (more requests run at once and share the GIL), against 8 → 5,467
  fetches per second with the twenty delays in flight. A semaphore holding the working requests to 8 did
  not win that 10% back reliably (each request is then handed between threads), so there is none.
- werkzeug's threaded server (the in-process mocks of the test suite and the pytest plugin) runs one
  thread per connection: nothing to size.

tests/serve/test_delays_dont_block.py holds both to it.
"""

from __future__ import annotations

import time

# Requests that may sleep a simulated delay at once beyond the working threads. An idle thread costs its
# stack's address space and a little memory, and granian starts none before they are needed.
DELAY_HEADROOM = 64


def serving_threads(work_threads: int) -> int:
    """The server threads (granian: blocking threads per worker) for a mock whose code runs on
    `work_threads`: those plus room for requests sleeping a simulated delay."""
    return work_threads + DELAY_HEADROOM


def pause(seconds: float) -> None:
    """A simulated delay: the request sleeps in its own thread (the server must have others to spare)."""
    time.sleep(seconds)
