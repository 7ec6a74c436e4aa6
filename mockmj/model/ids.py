"""Identifiers in the formats the real proxy and Discord use, all drawn from one seeded source.

Task ids are the proxy's `System.currentTimeMillis()` followed by three random digits (16 digits);
nonces and Discord message/channel ids are 19-digit snowflakes; image hashes are UUIDs. One seed
makes every id of a run repeat exactly.
"""

from __future__ import annotations

import random
import threading
import uuid

DISCORD_EPOCH_MS = 1_420_070_400_000


class IdSource:
    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._issued_tasks: set[str] = set()  # ids of the latest milliseconds only: older ones cannot recur
        self._issued_ms = 0
        self._sequence = 0
        self.draws = 0  # counts every id drawn: a shared store writes the source's state when it moved

    def state(self) -> tuple[object, ...]:
        """Everything that decides the next ids, for a store shared by several workers."""
        with self._lock:
            return self._rng.getstate(), sorted(self._issued_tasks), self._issued_ms, self._sequence

    def restore(self, state: tuple[object, ...]) -> None:
        rng, issued, issued_ms, sequence = state
        with self._lock:
            self._rng.setstate(rng)  # type: ignore[arg-type]
            self._issued_tasks = set(issued)  # type: ignore[call-overload]
            self._issued_ms, self._sequence = issued_ms, sequence  # type: ignore[assignment]

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self.seed)
            self._issued_tasks.clear()
            self._issued_ms = 0
            self._sequence = 0

    def task_id(self, now_ms: int) -> str:
        with self._lock:
            self.draws += 1
            if now_ms > self._issued_ms:
                self._issued_tasks = {i for i in self._issued_tasks if int(i[:-3]) >= now_ms}
                self._issued_ms = now_ms
            while True:
                candidate = f"{now_ms}{self._rng.randrange(1000):03d}"
                if candidate not in self._issued_tasks:
                    self._issued_tasks.add(candidate)
                    return candidate
                now_ms += 1

    def snowflake(self, now_ms: int) -> str:
        """A Discord-style snowflake: milliseconds since the Discord epoch shifted left 22 bits."""
        with self._lock:
            self.draws += 1
            self._sequence = (self._sequence + 1) & 0xFFF
            worker = self._rng.randrange(1 << 10)
            value = ((now_ms - DISCORD_EPOCH_MS) << 22) | (worker << 12) | self._sequence
        return str(value)

    def image_hash(self) -> str:
        with self._lock:
            self.draws += 1
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def token(self) -> str:
        """64 random bits as 16 hex digits: the unguessable part of an attachment URL (Discord's CDN
        signs its links the same way), so one tenant cannot find another's uploads by counting."""
        with self._lock:
            self.draws += 1
            return f"{self._rng.getrandbits(64):016x}"

    def seed_value(self) -> str:
        """An image seed as Midjourney shows it (a decimal up to 4294967295)."""
        with self._lock:
            self.draws += 1
            return str(self._rng.randrange(1, 2**32))

    def fraction(self) -> float:
        with self._lock:
            self.draws += 1
            return self._rng.random()
