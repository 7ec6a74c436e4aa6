"""Timing profiles: how long each stage of a task lasts, and the schedule builder that uses them."""

from __future__ import annotations

from dataclasses import dataclass, replace

# PROGRESS_STEPS and Plan live in the leaf module `values` (outcomes needs them too) and are re-exported here
from mockmj.model.values import PROGRESS_STEPS, Milestone, Plan, Status


@dataclass(frozen=True)
class TimingProfile:
    name: str
    dispatch_ms: int  # NOT_START → SUBMITTED when a slot is free
    start_ms: int  # SUBMITTED → IN_PROGRESS "0%"
    step_ms: int  # between two progress steps
    finish_ms: int  # last step → SUCCESS
    quick_ms: int  # SUBMITTED → SUCCESS for actions without progress (upscale, describe)
    timeout_ms: int  # how long after SUBMITTED a timed-out task fails
    jitter: float = 0.0  # ± fraction applied to each stage, drawn from the seed
    per_poll: bool = False  # each fetch moves the task one milestone; time does not
    virtual_clock: bool = False  # time moves only through the control API
    steps: tuple[str, ...] = PROGRESS_STEPS  # the IN_PROGRESS percentages after "0%" (a custom profile's own)
    actions: tuple[tuple[str, TimingProfile], ...] = ()  # per-action overrides (IMAGINE, UPSCALE…)

    def for_action(self, action: str) -> TimingProfile:
        """The stages of one kind of task: its own override when the profile has one."""
        for name, override in self.actions:
            if name == action:
                return override
        return self

    def with_values(self, **values: object) -> TimingProfile:
        return replace(self, **values)  # type: ignore[arg-type]


PROFILES: dict[str, TimingProfile] = {
    "fast": TimingProfile("fast", 50, 100, 100, 150, 300, 3_000),
    "realistic": TimingProfile("realistic", 800, 3_000, 5_000, 4_000, 6_000, 300_000, jitter=0.2),
    "per-poll": TimingProfile("per-poll", 0, 0, 0, 0, 0, 0, per_poll=True),
    "manual": TimingProfile("manual", 1_000, 1_000, 1_000, 2_000, 3_000, 300_000, virtual_clock=True),
}

DEFAULT_PROFILE = "fast"


def build_path(
    profile: TimingProfile, plan: Plan, start: int | None, draw: float = 0.5
) -> list[Milestone]:
    """The milestones after NOT_START, starting at `start` (None: times decided by polls)."""
    if plan.slow:
        profile = PROFILES["realistic"]
    factor = 1.0 + profile.jitter * (2 * draw - 1)
    t = start

    def at(delta: int) -> int | None:
        nonlocal t
        if t is None:
            return None
        t += int(delta * factor)
        return t

    path = [Milestone(Status.SUBMITTED, "0%", t)]
    if plan.end == "stuck":
        return path
    if plan.end == "timeout":
        path.append(Milestone(Status.FAILURE, "", at(profile.timeout_ms)))
        return path
    if plan.end == "failure":
        # Midjourney refuses a job (banned prompt, invalid parameter) right after it was submitted.
        path.append(Milestone(Status.FAILURE, "", at(profile.start_ms)))
        return path
    if plan.steps or plan.end == "stall":
        path.append(Milestone(Status.IN_PROGRESS, "0%", at(profile.start_ms)))
        for step in profile.steps:
            path.append(Milestone(Status.IN_PROGRESS, step, at(profile.step_ms)))
            # a custom profile's steps may not hold the stall percentage: stall at the first one past it
            if plan.end == "stall" and int(step.rstrip("%")) >= int(plan.stall_at.rstrip("%")):
                return path
        last = profile.finish_ms
    else:
        last = profile.quick_ms
    path.append(Milestone(Status.SUCCESS, "100%", at(last)))
    return path


def slot_hold(path: list[Milestone]) -> int | None:
    """When a task whose path this is frees its concurrency slot (None: never)."""
    last = path[-1]
    if last.status in (Status.SUCCESS, Status.FAILURE, Status.CANCEL):
        return last.at
    return None
