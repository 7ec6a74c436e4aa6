"""Tasks, their statuses and the one table of legal transitions.

A task does not store "its current status". It stores a schedule: the milestones it will pass
through (status, progress, time). Its state at any moment is read off that schedule with the clock,
so a fetch costs O(schedule length) whatever the number of stored tasks, and a schedule is checked
against TRANSITIONS when it is built, so an illegal path cannot exist.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcomes import Outcome


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


TERMINAL = frozenset({Status.SUCCESS, Status.FAILURE, Status.CANCEL})

# The whole lifecycle in one place. IN_PROGRESS → IN_PROGRESS is a progress step (the percentage must
# grow); MODAL → NOT_START/SUBMITTED is the window being confirmed through /submit/modal.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NOT_START: frozenset({Status.SUBMITTED, Status.FAILURE, Status.CANCEL}),
    Status.MODAL: frozenset({Status.NOT_START, Status.SUBMITTED, Status.CANCEL}),
    Status.SUBMITTED: frozenset({Status.IN_PROGRESS, Status.SUCCESS, Status.FAILURE, Status.CANCEL}),
    Status.IN_PROGRESS: frozenset({Status.IN_PROGRESS, Status.SUCCESS, Status.FAILURE, Status.CANCEL}),
    Status.SUCCESS: frozenset(),
    Status.FAILURE: frozenset(),
    Status.CANCEL: frozenset(),
}

INITIAL = frozenset({Status.NOT_START, Status.MODAL})


class IllegalTransition(ValueError):
    pass


def percent(progress: str | None) -> int:
    """"46%" → 46; None or "" → -1 (before any progress was reported)."""
    if not progress:
        return -1
    return int(progress.rstrip("%"))


def check_step(before: Milestone, after: Milestone) -> None:
    if after.status not in TRANSITIONS[before.status]:
        raise IllegalTransition(f"{before.status} → {after.status} is not a legal transition")
    if (
        before.status is Status.IN_PROGRESS
        and after.status is Status.IN_PROGRESS
        and percent(after.progress) <= percent(before.progress)
    ):
        raise IllegalTransition(f"progress may only grow ({before.progress} → {after.progress})")


@dataclass
class Milestone:
    """One point of a task's path. `at` is None until the time is known (per-poll timing)."""

    status: Status
    progress: str | None
    at: int | None = None


@dataclass
class Task:
    id: str
    owner: str
    action: Action
    submit_time: int
    prompt: str | None = None
    prompt_en: str | None = None
    description: str | None = None
    state: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    milestones: list[Milestone] = field(default_factory=list)
    fail_reason: str | None = None
    # What the finished task shows; filled in when the task is created, revealed by its schedule.
    message_hash: str | None = None
    message_id: str | None = None
    progress_message_id: str | None = None
    final_prompt: str | None = None
    reveal_prompt: str | None = None  # prompt text that appears only at SUCCESS (describe, shorten)
    button_set: str = "none"
    account_id: str | None = None
    parent_id: str | None = None
    custom_id: str | None = None
    image_recipe: dict[str, Any] | None = None
    seed: str | None = None
    version: str | None = None  # the model version of an image task ("7", "6.1", …), from its prompt
    # per kind of task
    steps: bool = True  # reports IN_PROGRESS percentages (upscale, describe, shorten do not)
    choices: list[str] = field(default_factory=list)  # describe/shorten results its buttons pick from
    source_prompt: str | None = None  # shorten: the prompt analysed (Show Details analyses it again)
    prompt_after_start: bool = False  # blend: prompt/promptEn stay null until the job starts
    modal_kind: str | None = None  # what /submit/modal must check: custom_zoom, inpaint, imagine, remix
    description_after_modal: str | None = None
    # bookkeeping of the engine
    outcome: Outcome | None = None  # asked for at submit (kept for the modal confirmation)
    origin: str = ""  # base URL of the submitting request, for links in callbacks
    callback_fault: str | None = None
    callback_delay_ms: int | None = None
    final_path: str | None = None  # where the result image is served
    preview_path: str | None = None
    media_paths: list[str] = field(default_factory=list)  # a video task's videos, thumbnails and frames
    uploads: list[str] = field(default_factory=list)  # images sent with the task, served until reset
    price: int = 0
    refunded: bool = False

    def recipe_has_image(self) -> bool:
        return self.image_recipe is not None and self.image_recipe.get("kind") != "source"

    def set_milestones(self, milestones: list[Milestone]) -> None:
        """Replace the path ahead, keeping it legal from the first milestone to the last."""
        if not milestones or milestones[0].status not in INITIAL:
            raise IllegalTransition("a task starts in NOT_START or MODAL")
        for before, after in itertools.pairwise(milestones):
            check_step(before, after)
        self.milestones = milestones

    def extend(self, milestones: list[Milestone]) -> None:
        """Append to the path (the modal confirmation, a cancel), checking the joint as well."""
        for before, after in zip([self.milestones[-1], *milestones], milestones, strict=False):
            check_step(before, after)
        self.milestones.extend(milestones)

    def reached_index(self, now: int, per_poll: bool) -> int:
        """Index of the milestone the task stands at."""
        if per_poll:
            known = [m for m in self.milestones if m.at is not None]
            return max(0, len(known) - 1)
        times = [m.at if m.at is not None else float("inf") for m in self.milestones]
        return max(0, bisect.bisect_right(times, now) - 1)

    def time_of(self, status: Status, upto: int) -> int | None:
        for m in self.milestones[: upto + 1]:
            if m.status is status:
                return m.at
        return None
