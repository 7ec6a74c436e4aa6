"""A task kept small: the compact milestone path reads and writes like the list it replaces, and the
values tasks have in common are shared, not copied. (Bytes per task are measured by
benchmarks/bench_hostile.py, not asserted here.)"""

from __future__ import annotations

import copy
import pickle

import pytest

from mockmj.model.tasks import Action, Milestone, MilestonePath, Status, Task


def task(**fields: object) -> Task:
    return Task(id="1717200000000123", owner="k", action=Action.IMAGINE, submit_time=0, **fields)  # type: ignore[arg-type]


PATH = [Milestone(Status.NOT_START, None, 5), Milestone(Status.SUBMITTED, "0%", 10),
        Milestone(Status.IN_PROGRESS, "15%", None), Milestone(Status.SUCCESS, "100%", None)]


def test_a_path_reads_like_the_list_it_was_built_from() -> None:
    path = MilestonePath(PATH)
    assert len(path) == 4 and path == PATH and list(path) == PATH
    assert path[-1] == Milestone(Status.SUCCESS, "100%", None)
    assert path[1:3] == PATH[1:3]
    assert [m.at for m in path] == [5, 10, None, None]
    assert path.known() == 2
    with pytest.raises(IndexError):
        path[4]


def test_writing_a_time_through_an_index_changes_the_path() -> None:
    path = MilestonePath(PATH)
    path[2].at = 20
    assert path[2].at == 20 and path.known() == 3
    path[2].at = None
    assert path[2].at is None


def test_a_milestone_read_before_the_path_was_cut_no_longer_writes_to_it() -> None:
    path = MilestonePath(PATH)
    old = path[3]
    del path[2:]
    path.extend([Milestone(Status.CANCEL, "", 12)])
    old.at = 99  # like a Milestone object that was removed from a list: it no longer belongs to it
    assert path == [*PATH[:2], Milestone(Status.CANCEL, "", 12)]
    with pytest.raises(AttributeError):
        path[0].status = Status.FAILURE


def test_tasks_on_the_same_path_share_its_statuses() -> None:
    a, b = task(), task()
    a.set_milestones(PATH)
    b.set_milestones([Milestone(m.status, m.progress, None if m.at is None else m.at + 1000) for m in PATH])
    assert isinstance(a.milestones, MilestonePath) and isinstance(b.milestones, MilestonePath)
    assert a.milestones._kinds is b.milestones._kinds
    assert a.milestones[0].at == 5 and b.milestones[0].at == 1005
    # per-poll timing: the reached index counts the known times (no later than the clock), never an unknown one;
    # real time: bisect over them
    assert a.reached_index(10, per_poll=True) == 1 and a.reached_index(10**15, per_poll=True) == 1
    assert b.reached_index(1007, per_poll=False) == 0 and b.reached_index(1010, per_poll=False) == 1


def test_equal_grid_recipes_and_empty_lists_are_shared() -> None:
    a = task(image_recipe={"kind": "grid", "aspect": [3, 2]}, choices=[])
    b = task(image_recipe={"kind": "grid", "aspect": [3, 2]}, choices=[])
    c = task(image_recipe={"kind": "grid", "aspect": [2, 3]})
    assert a.image_recipe is b.image_recipe and a.image_recipe == {"kind": "grid", "aspect": [3, 2]}
    assert c.image_recipe is not a.image_recipe
    assert a.choices == () and a.choices is b.choices
    assert task(choices=["one", "two"]).choices == ("one", "two")


def test_uploads_appear_on_the_task_once_added() -> None:
    t = task()
    assert t.uploads == [] and t._uploads is None, "reading the empty list keeps none"
    t.uploads.extend([])
    assert t._uploads is None
    t.uploads.extend(["/attachments/1/2/a.png"])
    t.uploads.append("/attachments/1/2/b.png")
    assert t.uploads == ["/attachments/1/2/a.png", "/attachments/1/2/b.png"]


def test_a_task_with_uploads_survives_a_copy_and_a_pickle() -> None:
    """A packed task is pickled (engine/task_index.py): its uploads come back as the list they were, still the
    task's own."""
    t = task()
    t.uploads.extend(["/attachments/1/2/a.png", "/attachments/1/2/b.png"])
    for again in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert again.uploads == ["/attachments/1/2/a.png", "/attachments/1/2/b.png"]
        again.uploads.append("/attachments/1/2/c.png")
        assert again.uploads[-1] == "/attachments/1/2/c.png" and len(t.uploads) == 2
