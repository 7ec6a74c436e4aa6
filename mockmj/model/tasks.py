"""Tasks, their statuses and the one table of legal transitions.

A task does not store "its current status". It stores a schedule: the milestones it will pass
through (status, progress, time). Its state at any moment is read off that schedule with the clock,
so a fetch costs O(schedule length) whatever the number of stored tasks, and a schedule is checked
against TRANSITIONS when it is built, so an illegal path cannot exist.

A mock may hold 100,000 finished tasks, so a task is kept small: slots instead of a per-object dict,
its path as one bytes object of times plus a (status, progress) tuple shared by every task that takes the
same path (see MilestonePath), and the values many tasks have in common (empty lists, the default
outcome, a grid's image recipe) shared instead of copied.
"""

from __future__ import annotations

import bisect
import itertools
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Status, Action and Milestone are defined in the leaf module `values` and re-exported here, where the
# rest of mockmj has always imported them from.
from mockmj.model.values import Action, Milestone, Outcome, Status

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


_UNKNOWN = 2**63 - 1  # `at` is None; as the largest time it also sorts where "not yet" belongs
_SHARED_LIMIT = 4096  # distinct shared values kept; past it values are simply not shared
_shared_values: dict[Any, Any] = {}  # a path's (status, progress) tuple, a grid recipe, an outcome


def _shared(value: Any, key: Any) -> Any:
    """One object for every equal value (by `key`); values shared like this are never mutated."""
    found = _shared_values.get(key)
    if found is None:
        if len(_shared_values) >= _SHARED_LIMIT:
            return value
        found = _shared_values[key] = value
    return found


def _shared_path_kinds(kinds: tuple[tuple[Status, str | None], ...]) -> tuple[tuple[Status, str | None], ...]:
    return _shared(kinds, kinds)


class _Placed(Milestone):
    """A milestone read from a MilestonePath: a copy of its values that writes `at` back to the path
    (`task.milestones[i].at = t` works as on a list), unless the path was cut or grown since."""

    __slots__ = ("_index", "_kinds", "_path")

    def __init__(self, path: MilestonePath, index: int) -> None:
        status, progress = path._kinds[index]
        (at,) = _TIME.unpack_from(path._times, index * _TIME.size)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "progress", progress)
        object.__setattr__(self, "at", None if at == _UNKNOWN else at)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_kinds", path._kinds)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "at" and self._path._kinds is self._kinds:
            self._path._set_time(self._index, value)
        elif name in ("status", "progress"):
            raise AttributeError("a placed milestone's status and progress are fixed: build a new path")


_TIME = struct.Struct("=q")


def _packed(times: Iterable[int | None]) -> bytes:
    values = [_UNKNOWN if t is None else t for t in times]
    return struct.pack(f"={len(values)}q", *values)


class MilestonePath:
    """A task's milestones, stored compactly: the times as 64-bit integers in one bytes object (an
    array or a list of ints would cost two to four times as much) and the (status, progress) sequence
    as a tuple shared between tasks. Reads like a list of Milestone."""

    __slots__ = ("_kinds", "_times")

    def __init__(self, milestones: Iterable[Milestone] = ()) -> None:
        items = list(milestones)
        self._kinds = _shared_path_kinds(tuple((m.status, m.progress) for m in items))
        self._times = _packed(m.at for m in items)

    def __len__(self) -> int:
        return len(self._kinds)

    def __iter__(self) -> Iterator[Milestone]:
        return (_Placed(self, i) for i in range(len(self._kinds)))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_Placed(self, i) for i in range(*index.indices(len(self._kinds)))]
        if index < 0:
            index += len(self._kinds)
        if not 0 <= index < len(self._kinds):
            raise IndexError("milestone index out of range")
        return _Placed(self, index)

    def __delitem__(self, index: int | slice) -> None:
        if not isinstance(index, slice):
            index = slice(index, index + 1 or None)
        kinds, times = list(self._kinds), list(self.times())
        del kinds[index]
        del times[index]
        self._kinds = _shared_path_kinds(tuple(kinds))
        self._times = struct.pack(f"={len(times)}q", *times)

    def extend(self, milestones: Iterable[Milestone]) -> None:
        items = list(milestones)
        self._kinds = _shared_path_kinds(self._kinds + tuple((m.status, m.progress) for m in items))
        self._times += _packed(m.at for m in items)

    def _set_time(self, index: int, at: int | None) -> None:
        times = bytearray(self._times)
        _TIME.pack_into(times, index * _TIME.size, _UNKNOWN if at is None else at)
        self._times = bytes(times)

    def append(self, milestone: Milestone) -> None:
        self.extend([milestone])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MilestonePath | list | tuple):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MilestonePath({list(self)!r})"

    def times(self) -> Sequence[int]:
        """The raw times (unknown ones as the largest integer): for searches without a copy per item."""
        return memoryview(self._times).cast("q")

    def known(self) -> int:
        """How many milestones have a time."""
        return sum(1 for t in self.times() if t != _UNKNOWN)

    def value(self, index: int) -> Milestone:
        """A detached copy of one milestone, for reading only (cheaper than a write-through one)."""
        status, progress = self._kinds[index]
        (at,) = _TIME.unpack_from(self._times, (index % len(self._kinds)) * _TIME.size)
        return Milestone(status, progress, None if at == _UNKNOWN else at)

    def statuses(self, upto: int) -> set[Status]:
        """The statuses of milestones 0..upto, read without building a Milestone for each (a fetch's path)."""
        return {status for status, _ in self._kinds[: upto + 1]}

    def first_time(self, status: Status, upto: int) -> int | None:
        """The time of the first milestone with this status among 0..upto, or None."""
        for index, (kind, _) in enumerate(self._kinds[: upto + 1]):
            if kind is status:
                (at,) = _TIME.unpack_from(self._times, index * _TIME.size)
                return None if at == _UNKNOWN else at
        return None


_EMPTY: tuple[str, ...] = ()
def _recipe_key(recipe: dict[str, Any]) -> tuple[Any, ...] | None:
    """A hashable key for a recipe made of scalars and lists of scalars (a grid's); None otherwise."""
    items = []
    for name, value in recipe.items():
        if isinstance(value, list):
            if not all(isinstance(v, int | float | str) for v in value):
                return None
            value = ("list", *value)
        elif not isinstance(value, int | float | str | None):
            return None
        items.append((name, value))
    return ("recipe", *items)


@dataclass(slots=True)
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
    milestones: MilestonePath | list[Milestone] = field(default_factory=list)
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
    choices: Sequence[str] = _EMPTY  # describe/shorten results its buttons pick from
    source_prompt: str | None = None  # shorten: the prompt analysed (Show Details analyses it again)
    prompt_after_start: bool = False  # blend: prompt/promptEn stay null until the job starts
    modal_kind: str | None = None  # what /submit/modal must check: custom_zoom, inpaint, imagine, remix
    description_after_modal: str | None = None
    # bookkeeping of the engine
    _outcome: Outcome | None = None  # asked for at submit (kept for the modal confirmation)
    _origin: str = ""  # base URL of the submitting request, for links in callbacks
    callback_fault: str | None = None
    callback_delay_ms: int | None = None
    final_path: str | None = None  # where the result image is served
    preview_path: str | None = None
    media_paths: list[str] = field(default_factory=list)  # a video task's videos, thumbnails and frames
    _uploads: list[str] | None = None  # images sent with the task, served until reset
    price: int = 0
    refunded: bool = False

    def __post_init__(self) -> None:
        # Each request brings its own copy of the key and the base URL: one string per value instead.
        self.owner = sys.intern(self.owner)
        # Shared, never copied: the lists hold no state of their own (every user copies before changing).
        self.choices = tuple(self.choices) if self.choices else _EMPTY
        if self.image_recipe is not None:
            key = _recipe_key(self.image_recipe)
            if key is not None:
                self.image_recipe = _shared(self.image_recipe, key)

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

    @outcome.setter
    def outcome(self, value: Outcome | None) -> None:
        # Outcomes are frozen: tasks that asked for the same one (mostly the default) share it.
        self._outcome = None if value is None else _shared(value, ("outcome", value))

    @property
    def origin(self) -> str:
        return self._origin

    @origin.setter
    def origin(self, value: str) -> None:
        self._origin = sys.intern(value)

    @property
    def uploads(self) -> list[str]:
        """The task's uploaded images; most tasks have none, and keep no list until they have one."""
        if self._uploads is None:
            return _UploadList(self)
        return self._uploads


    def recipe_has_image(self) -> bool:
        return self.image_recipe is not None and self.image_recipe.get("kind") != "source"

    def set_milestones(self, milestones: list[Milestone]) -> None:
        """Replace the path ahead, keeping it legal from the first milestone to the last."""
        if not milestones or milestones[0].status not in INITIAL:
            raise IllegalTransition("a task starts in NOT_START or MODAL")
        for before, after in itertools.pairwise(milestones):
            check_step(before, after)
        self.milestones = MilestonePath(milestones)

    def extend(self, milestones: list[Milestone]) -> None:
        """Append to the path (the modal confirmation, a cancel), checking the joint as well."""
        for before, after in zip([self.milestones[-1], *milestones], milestones, strict=False):
            check_step(before, after)
        self.milestones.extend(milestones)

    def reached_index(self, now: int, per_poll: bool) -> int:
        """Index of the milestone the task stands at. In per-poll timing, the last milestone a poll gave a time
        to; a task scheduled before the switch to per-poll (every time known in advance) still follows the clock,
        as the timing applies to tasks submitted afterwards."""
        path = self.milestones
        if isinstance(path, MilestonePath):
            by_clock = bisect.bisect_right(path.times(), now)  # unknown times sort last
            return max(0, (min(by_clock, path.known()) if per_poll else by_clock) - 1)
        times = [m.at if m.at is not None else float("inf") for m in path]
        by_clock = bisect.bisect_right(times, now)
        if per_poll:
            by_clock = min(by_clock, sum(1 for m in path if m.at is not None))
        return max(0, by_clock - 1)

    def time_of(self, status: Status, upto: int) -> int | None:
        if isinstance(self.milestones, MilestonePath):
            return self.milestones.first_time(status, upto)
        return next((m.at for m in self.milestones[: upto + 1] if m.status is status), None)

    def milestone(self, index: int) -> Milestone:
        """Milestone `index` to read (a fetch, a callback): writing to it does not change the task."""
        path = self.milestones
        return path.value(index) if isinstance(path, MilestonePath) else path[index]

    def statuses_until(self, upto: int) -> set[Status]:
        if isinstance(self.milestones, MilestonePath):
            return self.milestones.statuses(upto)
        return {m.status for m in self.milestones[: upto + 1]}


class _UploadList(list[str]):
    """The empty upload list of a task that has none: it joins the task once something is added."""

    __slots__ = ("_task",)

    def __init__(self, task: Task) -> None:
        super().__init__()
        self._task = task

    def _join(self) -> None:
        if self and self._task._uploads is None:
            self._task._uploads = self

    def append(self, item: str) -> None:
        super().append(item)
        self._join()

    def extend(self, items: Iterable[str]) -> None:
        super().extend(items)
        self._join()

    def __iadd__(self, items: Iterable[str]) -> _UploadList:  # type: ignore[override]
        self.extend(items)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (a packed task) or copied, it is the plain list: pickle would otherwise call `extend` on a list
        # not yet given its task, and fail
        return (list, (list(self),))


class Leaving(NamedTuple):
    """What forgetting a task takes of it: its id, where a task index files it (owner, image hash) and the uploads
    kept beside it. An index holding the task packed gives these without unpacking it (engine/task_index.py)."""

    id: str
    owner: str
    message_hash: str | None
    uploads: tuple[str, ...]


def leaving(task: Task) -> Leaving:
    return Leaving(task.id, task.owner, task.message_hash, tuple(task.uploads))
