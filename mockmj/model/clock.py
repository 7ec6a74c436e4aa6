"""Where the mock's time comes from.

Every timestamp the engine writes and every schedule it evaluates reads `Clock.now_ms()`; nothing in
the core calls `time.time()` directly. That is what makes the `manual` profile (time moves only when
a test says so) and byte-identical replays possible.
"""

from __future__ import annotations

import threading
import time

# A fixed, plausible epoch for virtual clocks (2024-06-01T00:00:00Z), so that ids derived from time
# look like real 16-digit proxy ids and repeat exactly from one run to the next.
VIRTUAL_EPOCH_MS = 1_717_200_000_000


class Clock:
    """Wall-clock time plus an offset that the control API can push forward."""

    def __init__(self, continue_from: int | None = None, offset_ms: int = 0) -> None:
        """`continue_from`: start at that time (and run in real time from there); `offset_ms`: run that far
        ahead of the wall clock (a clock restored from a store)."""
        self._offset_ms = offset_ms if continue_from is None else continue_from - int(time.time() * 1000)
        self._lock = threading.Lock()

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    @property
    def virtual(self) -> bool:
        return False

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self._offset_ms

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("time cannot move backwards")
        with self._lock:
            self._offset_ms += ms
        return self.now_ms()


class VirtualClock(Clock):
    """Time that stands still until `advance` is called."""

    def __init__(self, start_ms: int = VIRTUAL_EPOCH_MS) -> None:
        super().__init__()
        self._now = start_ms

    @property
    def virtual(self) -> bool:
        return True

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("time cannot move backwards")
        with self._lock:
            self._now += ms
        return self._now
