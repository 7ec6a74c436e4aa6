"""`mockmj calibrate DIR`: a timing profile (TOML, for `serve --timing file:…`) from a recording.

For each recorded task the polls give the moment each status and progress step was first seen,
counted from the submission. Per action, the median over its tasks gives the profile's stages:

    dispatch_ms  submit → SUBMITTED (0 unless NOT_START was seen)
    start_ms     SUBMITTED → IN_PROGRESS
    step_ms      between two progress steps
    finish_ms    last step → SUCCESS
    quick_ms     SUBMITTED → SUCCESS, for tasks that showed no progress (upscales, describe)
    steps        the progress percentages seen, in order

Polls only see a change when they happen, so each figure is exact to within the polling interval.
Stages never observed keep the values of the base profile (`fast`).
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockmj.model.profile_file import STAGES
from mockmj.model.timing import PROFILES
from mockmj.record.replay import Recording

BASE = "fast"


@dataclass
class Observed:
    """The stages of one kind of task, as seen in each of its tasks."""

    tasks: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    steps: tuple[str, ...] = ()

    def add(self, stage: str, value: float) -> None:
        self.stages.setdefault(stage, []).append(max(0.0, value))

    def medians(self) -> dict[str, int]:
        return {k: round(statistics.median(v)) for k, v in self.stages.items() if v}


def _first_seen(answers: list[Any]) -> tuple[str | None, list[tuple[float, str, str]]]:
    """(action, [(offset, status, progress)] at each change) of one task's polls."""
    action, changes = None, []
    last: tuple[str, str] | None = None
    for answer in answers:
        try:
            task = json.loads(answer.body)
        except ValueError:
            continue
        if not isinstance(task, dict) or "status" not in task:
            continue
        action = action or task.get("action")
        seen = (str(task.get("status")), str(task.get("progress") or ""))
        if seen != last:
            changes.append((answer.offset_ms, *seen))
            last = seen
    return action, changes


def observe(recording: Recording) -> dict[str, Observed]:
    by_action: dict[str, Observed] = {}
    for answers in recording.polls.values():
        action, changes = _first_seen(answers)
        if not action or not changes or changes[-1][1] != "SUCCESS":
            continue  # failures and unfinished tasks say nothing about the successful path
        seen = by_action.setdefault(action, Observed())
        seen.tasks += 1
        statuses = [s for _, s, _ in changes]
        submitted = next((t for t, s, _ in changes if s not in ("NOT_START", "MODAL")), 0.0)
        seen.add("dispatch_ms", submitted if "NOT_START" in statuses else 0.0)
        running = [(t, p) for t, s, p in changes if s == "IN_PROGRESS"]
        finished = next(t for t, s, _ in changes if s == "SUCCESS")
        if not running:
            seen.add("quick_ms", finished - submitted)
            continue
        seen.add("start_ms", running[0][0] - submitted)
        for (t0, _), (t1, _) in itertools.pairwise(running):
            seen.add("step_ms", t1 - t0)
        seen.add("finish_ms", finished - running[-1][0])
        steps = tuple(p for _, p in running if p not in ("", "0%", "100%"))
        if len(steps) > len(seen.steps):
            seen.steps = steps
    return by_action


def profile_toml(recording: Recording, source: str) -> str:
    """The profile as TOML text, with comments saying what each figure rests on."""
    by_action = observe(recording)
    if not by_action:
        raise ValueError(f"{source}: no task of the recording was polled to SUCCESS; nothing to calibrate from")
    main = "IMAGINE" if "IMAGINE" in by_action else max(by_action, key=lambda a: by_action[a].tasks)
    base = PROFILES[BASE]
    top = {stage: getattr(base, stage) for stage in STAGES} | by_action[main].medians()
    lines = [
        f"# Timing profile calibrated by `mockmj calibrate` from {source}:",
        "# " + ", ".join(f"{n} {a} task(s)" for a, n in sorted((a, o.tasks) for a, o in by_action.items())),
        "# polled to SUCCESS. Figures are medians, exact to within the recording's polling interval.",
        "# Use it with: mockmj serve --timing file:PROFILE.toml",
        "",
        f'base = "{BASE}"',
    ]
    lines += [f"{stage} = {top[stage]}" for stage in STAGES]
    steps = by_action[main].steps
    if steps:
        lines.append("steps = [" + ", ".join(f'"{s}"' for s in steps) + "]")
    for action in sorted(by_action):
        if action == main:
            continue
        own = {k: v for k, v in by_action[action].medians().items() if v != top.get(k)}
        if not own and not by_action[action].steps:
            continue
        lines += ["", f"[actions.{action}]  # {by_action[action].tasks} task(s)"]
        lines += [f"{stage} = {value}" for stage, value in own.items()]
        if by_action[action].steps and by_action[action].steps != steps:
            lines.append("steps = [" + ", ".join(f'"{s}"' for s in by_action[action].steps) + "]")
    return "\n".join(lines) + "\n"


def calibrate(directory: str | Path) -> str:
    return profile_toml(Recording(directory), f"{Path(directory).name}/recording.har")
