"""Simulated latency (a control rule's `latencyMs`) without starving the requests that have none.

WSGI is synchronous: a request the mock delays sleeps in the server thread that called the app, and a
server with 8 threads (waitress as `mockmj serve` runs it) answers nothing else once 8 requests sleep.
WireMock fell from over 5,000 to 170 requests/s that way. Nothing inside a WSGI app can hand its thread
back while it waits, so the server's pool has to grow by the requests that sleep, and only while they do:

- `DelayedRequests` counts the requests sleeping a simulated delay and tells its listeners each change;
- `follow_delays` resizes a server's pool to its working threads plus those sleeping (waitress's
  dispatcher can be resized while it runs: `set_thread_count`). Granian's blocking threads already grow
  on demand, up to `--blocking-threads` (512 per worker by default for WSGI): it needs no listener, only
  a cap above the working threads plus MAX_SLEEPING.

Why not simply start more threads: measured with wrk (32 connections, fetch of a finished task), waitress
with 72 threads answers 20-25% fewer requests per second than with 8, since every in-flight request then
runs at once and they contend for the GIL; a semaphore holding the working ones to 8 made it worse still
(each request handed between threads). Growing only while requests sleep costs nothing otherwise.
tests/test_delays_dont_block.py holds both servers to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Requests that may sleep a delay at once with a thread of their own; beyond, they share the working
# threads again. A sleeping thread costs its stack's address space and a little memory; the bound keeps a
# flood of delayed requests (a rule without `times`) from starting threads without end.
MAX_SLEEPING = 256


class DelayedRequests:
    """The requests sleeping a simulated delay right now; listeners hear the count at each change."""

    def __init__(self) -> None:
        self.sleeping = 0
        self.listeners: list[Callable[[int], None]] = []
        self._lock = threading.Lock()  # changes and their notices in one order, so the last one told holds

    def _change(self, by: int) -> None:
        with self._lock:
            self.sleeping += by
            for listener in self.listeners:
                listener(min(self.sleeping, MAX_SLEEPING))

    def pause(self, seconds: float) -> None:
        """Sleep `seconds` in this request's thread, counted as sleeping for the pool to grow meanwhile."""
        self._change(+1)
        try:
            time.sleep(seconds)
        finally:
            self._change(-1)


def follow_delays(delays: DelayedRequests, set_thread_count: Callable[[int], None], work_threads: int) -> None:
    """Keep a server's pool at `work_threads` plus the requests sleeping a delay (waitress:
    `follow_delays(mock.delays, server.task_dispatcher.set_thread_count, threads)`)."""
    delays.listeners.append(lambda sleeping: set_thread_count(work_threads + sleeping))
