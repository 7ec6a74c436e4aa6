"""The value types a task is made of: its statuses and actions, a milestone of its path, the plan of how
it ends, and the outcome a test asked for.

A leaf module (the standard library only): `tasks`, `timing` and `outcomes` all build on these values, and
before they lived here those three imported each other in a circle (outcomes → timing → tasks → outcomes).
The behaviour around them stays where it was: legal transitions in `tasks`, schedules in `timing`, the
outcome grammar in `outcomes`, each of which re-exports the names it used to define.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NOT_START = "NOT_START"
    SUBMITTED = "SUBMITTED"
    MODAL = "MODAL"
    IN_PROGRESS = "IN_PROGRESS"
    FAILURE = "FAILURE"
    SUCCESS = "SUCCESS"
    CANCEL = "CANCEL"


class Action(StrEnum):
    IMAGINE = "IMAGINE"
    UPSCALE = "UPSCALE"
    VARIATION = "VARIATION"
    REROLL = "REROLL"
    ZOOM = "ZOOM"
    PAN = "PAN"
    DESCRIBE = "DESCRIBE"
    BLEND = "BLEND"
    SHORTEN = "SHORTEN"
    SWAP_FACE = "SWAP_FACE"
    VIDEO = "VIDEO"
    EDIT = "EDIT"
    RETEXTURE = "RETEXTURE"


# The percentages the real proxy reports while Midjourney renders (seen in its logs).
PROGRESS_STEPS = ("15%", "31%", "46%", "62%", "78%", "93%")


@dataclass(slots=True, eq=False)
class Milestone:
    """One point of a task's path. `at` is None until the time is known (per-poll timing)."""

    status: Status
    progress: str | None
    at: int | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Milestone):
            return NotImplemented
        return (self.status, self.progress, self.at) == (other.status, other.progress, other.at)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was


@dataclass(frozen=True)
class Plan:
    """What should happen to a task once it leaves NOT_START."""

    steps: bool = True  # report IN_PROGRESS percentages
    end: str = "success"  # success | failure | stuck | stall | timeout
    fail_reason: str | None = None
    stall_at: str = "46%"
    slow: bool = False  # use realistic timing for this task only


DEFAULT_FAIL_REASON = "[Invalid parameter] The job could not be completed (forced by mockmj)"


@dataclass(frozen=True)
class Outcome:
    """The outcome a test asked for (see `outcomes` for its grammar)."""

    kind: str = "success"
    reason: str | None = None
    stall_at: str = "46%"

    def plan(self, steps: bool, timeout_reason: str) -> Plan:
        if self.kind == "fail":
            return Plan(steps=steps, end="failure", fail_reason=self.reason or DEFAULT_FAIL_REASON)
        if self.kind == "banned":
            word = self.reason or "forbidden"
            reason = (
                "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is probably "
                f"against our community standards (flagged word: {word})"
            )
            return Plan(steps=steps, end="failure", fail_reason=reason)
        if self.kind == "stuck":
            return Plan(steps=steps, end="stuck")
        if self.kind == "stall":
            return Plan(steps=True, end="stall", stall_at=self.stall_at)
        if self.kind == "timeout":
            return Plan(steps=steps, end="timeout", fail_reason=timeout_reason)
        return Plan(steps=steps, slow=self.kind == "slow")
