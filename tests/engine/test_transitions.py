"""The lifecycle table of mockmj/model/tasks.py and the schedule builder of mockmj/model/timing.py.

Unit tests pin the table (terminal states have no exits, NOT_START and MODAL are the only ways in)
and the refusals of `Task.set_milestones` / `Task.extend`; hypothesis checks that every schedule
`build_path` can produce, for every profile and plan, is legal and only ever moves forward.
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockmj.model.tasks import (
    INITIAL,
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Milestone,
    Status,
    Task,
    check_step,
    percent,
)
from mockmj.model.timing import PROFILES, PROGRESS_STEPS, Plan, build_path, slot_hold

# How far along the lifecycle a status is; a task read at a later time never has a lower rank.
RANK = {
    Status.MODAL: 0,
    Status.NOT_START: 1,
    Status.SUBMITTED: 2,
    Status.IN_PROGRESS: 3,
    Status.SUCCESS: 4,
    Status.FAILURE: 4,
    Status.CANCEL: 4,
}
ENDS = ("success", "failure", "stuck", "stall", "timeout")


def new_task() -> Task:
    return Task(id="1717200000000123", owner="k", action=Action.IMAGINE, submit_time=0)


def m(status: Status, progress: str | None = None, at: int | None = 0) -> Milestone:
    return Milestone(status, progress, at)


def full_path(profile_name: str, plan: Plan, start: int | None, draw: float = 0.5) -> list[Milestone]:
    """NOT_START at `start` followed by what build_path plans, as the engine assembles it."""
    return [Milestone(Status.NOT_START, None, start), *build_path(PROFILES[profile_name], plan, start, draw)]


# ------------------------------------------------------------------------------------ the table
def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(Status)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status)


def test_terminal_states_have_no_exits() -> None:
    assert {Status.SUCCESS, Status.FAILURE, Status.CANCEL} == TERMINAL
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset(), status
    # and the only states without exits are the terminal ones
    assert {s for s, targets in TRANSITIONS.items() if not targets} == TERMINAL


def test_initial_states() -> None:
    assert {Status.NOT_START, Status.MODAL} == INITIAL
    # nothing leads back to NOT_START except the confirmation of a modal window, nothing leads to MODAL
    into_not_start = {s for s, targets in TRANSITIONS.items() if Status.NOT_START in targets}
    assert into_not_start == {Status.MODAL}
    assert not any(Status.MODAL in targets for targets in TRANSITIONS.values())


def test_every_state_is_reachable_and_every_path_can_end() -> None:
    reachable: set[Status] = set(INITIAL)
    queue = deque(INITIAL)
    while queue:
        for nxt in TRANSITIONS[queue.popleft()]:
            if nxt not in reachable:
                reachable.add(nxt)
                queue.append(nxt)
    assert reachable == set(Status)
    for status in Status:
        seen, frontier = {status}, [status]
        while frontier:
            frontier = [n for s in frontier for n in TRANSITIONS[s] if n not in seen]
            seen.update(frontier)
        assert seen & TERMINAL, f"{status} cannot reach a terminal state"


def test_upstream_edges() -> None:
    assert Status.SUBMITTED in TRANSITIONS[Status.NOT_START]
    assert Status.FAILURE in TRANSITIONS[Status.NOT_START]
    assert Status.IN_PROGRESS not in TRANSITIONS[Status.NOT_START]  # NOT_START must be SUBMITTED first
    assert Status.SUCCESS not in TRANSITIONS[Status.NOT_START]
    assert {Status.IN_PROGRESS, Status.SUCCESS, Status.FAILURE} <= TRANSITIONS[Status.SUBMITTED]
    assert Status.IN_PROGRESS in TRANSITIONS[Status.IN_PROGRESS]  # a progress step


def test_percent() -> None:
    assert percent(None) == -1
    assert percent("") == -1
    assert percent("0%") == 0
    assert percent("46%") == 46
    assert percent("100%") == 100


# ------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "path",
    [
        pytest.param([], id="empty"),
        pytest.param([m(Status.SUBMITTED, "0%")], id="starts-submitted"),
        pytest.param([m(Status.IN_PROGRESS, "0%")], id="starts-in-progress"),
        pytest.param([m(Status.SUCCESS, "100%")], id="starts-success"),
        pytest.param([m(Status.NOT_START), m(Status.IN_PROGRESS, "0%")], id="skips-submitted"),
        pytest.param([m(Status.NOT_START), m(Status.SUCCESS, "100%")], id="not-start-to-success"),
        pytest.param([m(Status.NOT_START), m(Status.NOT_START)], id="not-start-twice"),
        pytest.param([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.SUCCESS, "100%"),
                      m(Status.IN_PROGRESS, "15%")], id="success-to-in-progress"),
        pytest.param([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.FAILURE, ""),
                      m(Status.SUCCESS, "100%")], id="failure-to-success"),
        pytest.param([m(Status.NOT_START), m(Status.CANCEL, ""), m(Status.SUBMITTED, "0%")], id="cancel-to-submitted"),
        pytest.param([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.IN_PROGRESS, "46%"),
                      m(Status.IN_PROGRESS, "31%")], id="progress-down"),
        pytest.param([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.IN_PROGRESS, "46%"),
                      m(Status.IN_PROGRESS, "46%")], id="progress-repeated"),
        pytest.param([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.IN_PROGRESS, "15%"),
                      m(Status.SUBMITTED, "0%")], id="in-progress-to-submitted"),
        pytest.param([m(Status.MODAL), m(Status.IN_PROGRESS, "0%")], id="modal-to-in-progress"),
        pytest.param([m(Status.MODAL), m(Status.SUCCESS, "100%")], id="modal-to-success"),
    ],
)
def test_set_milestones_refuses_illegal_paths(path: list[Milestone]) -> None:
    task = new_task()
    before = [m(Status.NOT_START, None, 5)]
    task.milestones = list(before)
    with pytest.raises(IllegalTransition):
        task.set_milestones(path)
    assert task.milestones == before  # a refused path leaves the task as it was


@pytest.mark.parametrize(
    "path",
    [
        [m(Status.NOT_START)],
        [m(Status.MODAL)],
        [m(Status.MODAL), m(Status.NOT_START), m(Status.SUBMITTED, "0%")],
        [m(Status.NOT_START), m(Status.FAILURE, "")],
        [m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.SUCCESS, "100%")],
        [m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.IN_PROGRESS, "0%"), m(Status.IN_PROGRESS, "15%"),
         m(Status.IN_PROGRESS, "93%"), m(Status.CANCEL, "")],
    ],
)
def test_set_milestones_accepts_legal_paths(path: list[Milestone]) -> None:
    task = new_task()
    task.set_milestones(path)
    assert task.milestones == path


def test_extend_checks_the_joint() -> None:
    task = new_task()
    task.set_milestones([m(Status.NOT_START), m(Status.SUBMITTED, "0%"), m(Status.SUCCESS, "100%")])
    with pytest.raises(IllegalTransition):
        task.extend([m(Status.IN_PROGRESS, "15%")])
    with pytest.raises(IllegalTransition):
        task.extend([m(Status.CANCEL, "")])
    assert [x.status for x in task.milestones] == [Status.NOT_START, Status.SUBMITTED, Status.SUCCESS]

    modal = new_task()
    modal.set_milestones([m(Status.MODAL)])
    modal.extend([m(Status.NOT_START), m(Status.SUBMITTED, "0%")])
    assert [x.status for x in modal.milestones] == [Status.MODAL, Status.NOT_START, Status.SUBMITTED]
    with pytest.raises(IllegalTransition):
        modal.extend([m(Status.IN_PROGRESS, "31%"), m(Status.IN_PROGRESS, "15%")])


# The oracle: a sequence is legal iff it starts in an initial state and every pair passes the table
# and the growing-progress rule. set_milestones must agree with it on arbitrary sequences.
PROGRESSES = st.sampled_from([None, "", "0%", *PROGRESS_STEPS, "100%"])
MILESTONES = st.builds(Milestone, st.sampled_from(list(Status)), PROGRESSES, st.none() | st.integers(0, 10**6))


def legal(path: list[Milestone]) -> bool:
    if not path or path[0].status not in INITIAL:
        return False
    for before, after in itertools.pairwise(path):
        if after.status not in TRANSITIONS[before.status]:
            return False
        if before.status is after.status is Status.IN_PROGRESS and percent(after.progress) <= percent(before.progress):
            return False
    return True


@settings(max_examples=120, deadline=None)
@given(st.lists(MILESTONES, max_size=8))
def test_set_milestones_agrees_with_the_table(path: list[Milestone]) -> None:
    task = new_task()
    if legal(path):
        task.set_milestones(path)
        assert task.milestones == path
    else:
        with pytest.raises(IllegalTransition):
            task.set_milestones(path)
        assert task.milestones == []


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)), PROGRESSES, PROGRESSES)
def test_check_step_matches_the_table(a: Status, b: Status, pa: str | None, pb: str | None) -> None:
    ok = b in TRANSITIONS[a] and not (a is b is Status.IN_PROGRESS and percent(pb) <= percent(pa))
    if ok:
        check_step(Milestone(a, pa), Milestone(b, pb))
    else:
        with pytest.raises(IllegalTransition):
            check_step(Milestone(a, pa), Milestone(b, pb))


# ------------------------------------------------------------------------------------ build_path
PLANS = st.builds(
    Plan,
    steps=st.booleans(),
    end=st.sampled_from(ENDS),
    fail_reason=st.none() | st.text(max_size=10),
    stall_at=st.sampled_from(PROGRESS_STEPS),
    slow=st.booleans(),
)


def view(task: Task, now: int, per_poll: bool = False) -> tuple[Status, int]:
    milestone = task.milestones[task.reached_index(now, per_poll)]
    return milestone.status, percent(milestone.progress)


@settings(max_examples=120, deadline=None)
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    plan=PLANS,
    start=st.integers(0, 2**41),
    draw=st.floats(0.0, 1.0),
    offsets=st.lists(st.integers(0, 2_000_000), min_size=1, max_size=25),
)
def test_build_path_is_legal_and_only_moves_forward(
    profile: str, plan: Plan, start: int, draw: float, offsets: list[int]
) -> None:
    path = full_path(profile, plan, start, draw)
    task = new_task()
    task.set_milestones(path)  # raises IllegalTransition if the path is not legal

    times = [x.at for x in path]
    assert all(t is not None for t in times)
    assert times == sorted(times), times  # non-decreasing
    assert times[0] == start

    # Read the task at increasing moments: status rank and progress never go back.
    previous = (-1, -2)
    for now in sorted(start - 1000 + o for o in offsets):
        status, progress = view(task, now)
        rank = RANK[status]
        assert rank >= previous[0], (previous, status)
        if rank == previous[0] and status is Status.IN_PROGRESS:
            assert progress >= previous[1]
        previous = (rank, progress)
    # Long after the last milestone the task stands at it.
    assert task.reached_index(times[-1] + 10**9, False) == len(path) - 1
    assert task.reached_index(start - 1, False) == 0


@settings(max_examples=100, deadline=None)
@given(profile=st.sampled_from(sorted(PROFILES)), plan=PLANS, draw=st.floats(0.0, 1.0))
def test_build_path_ends_as_planned(profile: str, plan: Plan, draw: float) -> None:
    path = full_path(profile, plan, 1_000, draw)
    statuses = [x.status for x in path]
    progresses = [x.progress for x in path]
    assert statuses[:2] == [Status.NOT_START, Status.SUBMITTED]
    assert progresses[1] == "0%"
    last = path[-1]
    if plan.end == "success":
        assert (last.status, last.progress) == (Status.SUCCESS, "100%")
        steps = [x.progress for x in path if x.status is Status.IN_PROGRESS]
        assert steps == (["0%", *PROGRESS_STEPS] if plan.steps else [])
        assert slot_hold(path[1:]) == last.at
    elif plan.end in ("failure", "timeout"):
        assert (last.status, last.progress) == (Status.FAILURE, "")
        assert Status.SUCCESS not in statuses
        assert slot_hold(path[1:]) == last.at
    elif plan.end == "stuck":
        assert statuses[-1] is Status.SUBMITTED
        assert slot_hold(path[1:]) is None
    else:  # stall
        assert (last.status, last.progress) == (Status.IN_PROGRESS, plan.stall_at)
        assert slot_hold(path[1:]) is None
    assert not any(s in TERMINAL for s in statuses[:-1])


def test_timeout_fails_after_the_profile_timeout() -> None:
    for name, profile in PROFILES.items():
        if profile.per_poll or profile.jitter:
            continue
        path = build_path(profile, Plan(end="timeout"), 0)
        assert path[-1].at == profile.timeout_ms, name


def test_slow_plan_uses_realistic_timing() -> None:
    fast = build_path(PROFILES["fast"], Plan(), 0)
    slow = build_path(PROFILES["fast"], Plan(slow=True), 0)
    realistic = build_path(PROFILES["realistic"], Plan(), 0)
    assert [x.at for x in slow] == [x.at for x in realistic]
    assert slow[-1].at is not None and fast[-1].at is not None
    assert slow[-1].at > 10 * fast[-1].at


def test_realistic_takes_tens_of_seconds_and_fast_about_one() -> None:
    for draw in (0.0, 0.5, 1.0):
        realistic = build_path(PROFILES["realistic"], Plan(), 0, draw)[-1].at
        fast = build_path(PROFILES["fast"], Plan(), 0, draw)[-1].at
        assert realistic is not None and 20_000 <= realistic <= 60_000
        assert fast is not None and 300 <= fast <= 2_000


# ------------------------------------------------------------------------------------ per-poll
@settings(max_examples=80, deadline=None)
@given(plan=PLANS, nows=st.lists(st.integers(0, 10**13), min_size=1, max_size=30))
def test_per_poll_moves_one_milestone_per_known_time(plan: Plan, nows: list[int]) -> None:
    path = full_path("per-poll", plan, None)
    assert all(x.at is None for x in path)  # nothing is known before the polls
    path[0].at = 0
    task = new_task()
    task.set_milestones(path)
    assert task.reached_index(10**15, True) == 0  # time alone does not move a per-poll task
    # Each poll makes the next milestone's time known (the clock's reading then); the reached index moves exactly
    # one step, however much later it is read.
    for known in range(1, len(path)):
        task.milestones[known].at = known  # as a poll does: the task keeps its own copy of the path
        for now in nows:
            assert task.reached_index(known + now, True) == known
    assert task.reached_index(len(path), True) == len(path) - 1


@settings(max_examples=80, deadline=None)
@given(plan=PLANS, nows=st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_a_path_scheduled_in_advance_follows_the_clock_in_per_poll_timing(plan: Plan, nows: list[int]) -> None:
    """A task submitted before a switch to per-poll has every time known: timing applies to later tasks, so it
    stands where the clock says, as it would have in the timing it was scheduled in."""
    task = new_task()
    task.set_milestones(full_path("manual", plan, 0))
    for now in nows:
        assert task.reached_index(now, True) == task.reached_index(now, False)


def test_per_poll_path_has_no_times_and_real_timing_has_all() -> None:
    assert all(x.at is None for x in build_path(PROFILES["per-poll"], Plan(), None))
    assert all(x.at is not None for x in build_path(PROFILES["fast"], Plan(), 0))


def test_reached_index_treats_unknown_times_as_future() -> None:
    task = new_task()
    task.set_milestones([m(Status.NOT_START, None, 0), m(Status.SUBMITTED, "0%", 10), m(Status.SUCCESS, "100%", None)])
    assert task.reached_index(5, False) == 0
    assert task.reached_index(10, False) == 1
    assert task.reached_index(10**15, False) == 1
    assert task.time_of(Status.SUBMITTED, 1) == 10
    assert task.time_of(Status.SUBMITTED, 0) is None
