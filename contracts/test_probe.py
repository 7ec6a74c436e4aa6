"""Clauses fed by the probe task (one billable Imagine) and by pressing its buttons."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .actions import Pressed, press
from .checks import (
    RANK,
    TASK_KEYS,
    TERMINAL,
    check_compact,
    check_error_body,
    check_no_server_error,
    check_reading,
    check_submit_envelope,
    percent,
    short,
)
from .clauses import Recorder
from .client import Client
from .common import applies, need, need_budget, submit_body
from .dialects import Reading
from .grammar import parse
from .observe import Observer, describe_history
from .probe import Followed, follow, submit_and_follow
from .runtime import Run
from .target import Target
from .tasks import Made

FORBIDDEN = (Reading("HTTP 403 (88API: 403 Forbidden)", lambda ex: ex.status == 403),)


def _need_task(probe: Followed) -> str:
    need(probe.task_id is not None, f"the probe Imagine was not accepted: {probe.submit.brief()}")
    assert probe.task_id is not None
    return probe.task_id


def _need_success(probe: Followed) -> dict[str, Any]:
    _need_task(probe)
    final = probe.final
    need(final is not None and final.get("status") == "SUCCESS",
         f"the probe did not reach SUCCESS ({describe_history(probe.snapshots)})")
    assert final is not None
    return final


@pytest.mark.clauses("ENV-1", "ENV-2", "ENV-3", "ENV-4", "ENV-7")
@pytest.mark.cost(billable=1, priority=10)
def test_probe_submission_envelope(probe: Followed, rec: Recorder, target: Target) -> None:
    with rec.soft():
        check_no_server_error(rec, probe.submit)
        check_submit_envelope(rec, probe.submit, target.expect)
    _need_task(probe)


@pytest.mark.clauses("TASK-1", "TASK-2", "TASK-3", "TASK-4", "LIFE-1", "LIFE-2", "LIFE-3", "LIFE-4", "LIFE-5",
                     "LIFE-6", "LIFE-7", "LIFE-8", "LIFE-11", "LIFE-17", "URL-1")
@pytest.mark.cost(billable=1, priority=11)
def test_probe_lifecycle(probe: Followed, client: Client, rec: Recorder, observer: Observer) -> None:
    tid = _need_task(probe)
    with rec.soft():
        for ex in probe.fetches:
            check_compact(rec, ex)
            data = ex.json_or_none() if ex.status == 200 else None
            if not isinstance(data, dict):
                rec.fail("TASK-4", f"fetch of the probe task {tid} did not return it: {ex.brief()}")
                continue
            observer.observe(client, data, f"probe fetch {tid}", expected_id=tid)
        final = probe.final
        if final is not None:
            rec.check("TASK-4", final.get("state") == probe.state,
                      lambda: f"state sent {probe.state!r}, fetched {short(final.get('state'))}")
        if probe.finished:
            observer.fetch(client, tid)  # once more: a terminal status never changes (LIFE-2)
    need(probe.finished, f"the probe did not finish within --mj-task-timeout "
                         f"({describe_history(probe.snapshots)})")


@pytest.mark.clauses("LIFE-10")
@pytest.mark.cost(billable=1, priority=12)
def test_probe_list_by_condition(probe: Followed, client: Client, rec: Recorder, observer: Observer) -> None:
    tid = _need_task(probe)
    ex, listed = observer.list_by_ids(client, [tid, "9" * 16])
    with rec.soft():
        check_no_server_error(rec, ex)
        rec.check("LIFE-10", ex.status == 200 and listed is not None,
                  lambda: f"list-by-condition should answer HTTP 200 with a bare array: {ex.brief()}")
        if listed is None:
            return
        ids = [t.get("id") if isinstance(t, dict) else t for t in listed]
        rec.check("LIFE-10", ids == [tid], lambda: f"asked for [{tid}, an unknown id], got ids {ids}")
        if ids == [tid]:
            fetched = observer.fetch(client, tid)
            item = listed[0]
            if fetched.get("status") in TERMINAL:
                diff = [k for k in TASK_KEYS if item.get(k) != fetched.get(k)]
                rec.check("LIFE-10", not diff,
                          lambda: f"finished task {tid}: list-by-condition and fetch differ on {diff}")


def _callback_tasks(calls: list[Any]) -> list[Any]:
    return [c.json() for c in calls]


@pytest.mark.clauses("CB-1", "CB-2", "CB-3", "CB-4")
@pytest.mark.cost(billable=1, priority=13)
def test_probe_callbacks(probe: Followed, target: Target, rec: Recorder, run: Run) -> None:
    need(target.receiver is not None, target.receiver_note or "no callback receiver")
    tid = _need_task(probe)
    final = _need_finished(probe)
    assert target.receiver is not None and probe.hook_token is not None

    def finished(calls: list[Any]) -> bool:
        return any(isinstance(t, dict) and t.get("status") == final.get("status") for t in _callback_tasks(calls))

    calls = target.receiver.wait_for(probe.hook_token, finished, timeout=5.0 if target.local else 60.0)
    with rec.soft():
        rec.check("CB-1", bool(calls), lambda: f"no callback reached {target.receiver.url_for(probe.hook_token)}"
                                               f" for task {tid}")
        tasks = _callback_tasks(calls)
        for call, task in zip(calls, tasks, strict=True):
            ok = isinstance(task, dict) and task.get("id") == tid and all(k in task for k in TASK_KEYS)
            rec.check("CB-1", ok, lambda task=task: f"callback body is not the task JSON of {tid}: {short(task)}")
            rec.check("CB-1", "json" in call.content_type,
                      lambda call=call: f"callback Content-Type is {call.content_type!r}")
        good = [(c, t) for c, t in zip(calls, tasks, strict=True) if isinstance(t, dict)]
        for (ca, a), (cb, b) in itertools.pairwise(good):
            if not _behind(b, a):
                continue
            if cb.received - ca.received < IN_FLIGHT:
                rec.reading("CB-2", "reordered in flight (concurrent delivery, as upstream's pool of senders)")
                continue
            rec.check("CB-2", False, lambda a=a, b=b: f"callbacks went {a.get('status')}/{a.get('progress')} "
                                                      f"→ {b.get('status')}/{b.get('progress')}")
        if len(good) > 1:
            rec.ok("CB-2")
        if good:
            last = max((t for _, t in good), key=_order)
            if last is not good[-1][1]:
                rec.reading("CB-3", "the terminal callback overtook an earlier one in flight")
            diff = [k for k in ("status", "progress", "imageUrl", "failReason", "finishTime")
                    if last.get(k) != final.get(k)]
            rec.check("CB-3", not diff, lambda: f"last callback differs from fetch on {diff}: callback "
                                                f"{short({k: last.get(k) for k in diff})}, fetch "
                                                f"{short({k: final.get(k) for k in diff})}")
        _same_as_fetch(rec, [t for _, t in good], probe.snapshots, final)


def _moment(task: dict[str, Any]) -> tuple[Any, Any]:
    return task.get("status"), task.get("progress")


def _same_as_fetch(rec: Recorder, callbacks: list[dict[str, Any]], fetched: list[dict[str, Any]],
                   final: dict[str, Any]) -> None:
    """CB-4: a callback is the task JSON of its moment: every field equals the fetch answer of the same status
    and progress (a moment the polling saw; the terminal one always is)."""
    by_moment = {_moment(t): t for t in fetched}
    by_moment[_moment(final)] = final
    compared = 0
    for cb in callbacks:
        seen = by_moment.get(_moment(cb))
        if seen is None:
            continue  # the polling never saw this moment: there is nothing to compare with
        compared += 1
        diff = sorted(k for k in set(cb) | set(seen) if cb.get(k) != seen.get(k))
        rec.check("CB-4", not diff, lambda cb=cb, seen=seen, diff=diff:
                  f"the callback of {cb.get('status')}/{cb.get('progress')} differs from fetch on {diff}: callback "
                  f"{short({k: cb.get(k) for k in diff})}, fetch {short({k: seen.get(k) for k in diff})}")
    if not compared:
        rec.not_run("CB-4", "no callback arrived at a moment (status and progress) that fetch was seen at")


# Two callbacks that arrive this close together may have been sent in the other order: the upstream
# proxy (and mockmj) deliver them from a pool of threads, so only a slower regression is a fault
# (a loaded machine can hold a sender thread back for a while, hence the generous window).
IN_FLIGHT = 2.0


def _order(task: dict[str, Any]) -> tuple[int, int]:
    return RANK.get(task.get("status"), -1), percent(task.get("progress")) or 0


def _behind(b: dict[str, Any], a: dict[str, Any]) -> bool:
    ra, rb = RANK.get(a.get("status"), -1), RANK.get(b.get("status"), -1)
    if rb < ra or (ra == rb and a.get("status") != b.get("status")):
        return True
    pa, pb = percent(a.get("progress")), percent(b.get("progress"))
    return pa is not None and pb is not None and pb < pa


def _need_finished(probe: Followed) -> dict[str, Any]:
    need(probe.finished, f"the probe did not finish ({describe_history(probe.snapshots)})")
    assert probe.final is not None
    return probe.final


@pytest.mark.clauses("AUTH-3")
@pytest.mark.cost(billable=1, priority=14)
def test_probe_is_private(probe: Followed, client: Client, rec: Recorder, target: Target) -> None:
    applies(target.auth != "none", "the target reports that it needs no key (/_mockmj/health auth \"none\"): "
                                "keys are not tenants there")
    need(target.second_key is not None, "no second key (--mj-second-key) to try reading another key's task")
    tid = _need_task(probe)
    other = client.with_key(target.second_key)
    fetch = other.get(f"/mj/task/{tid}/fetch")
    listing = other.post("/mj/task/list-by-condition", {"ids": [tid]})
    need(fetch.status != 401 and listing.status != 401, f"the second key is refused: {fetch.brief()}")
    with rec.soft():
        for ex in (fetch, listing):
            check_no_server_error(rec, ex)
        data = fetch.json_or_none()
        leaked = fetch.status == 200 and isinstance(data, dict) and data.get("id") == tid
        rec.check("AUTH-3", not leaked, lambda: f"another key fetched task {tid}: {fetch.brief()}")
        if not leaked:
            check_reading(rec, "AUTH-3", target.expect.unknown_task_read + FORBIDDEN, fetch,
                          "another key's task")
        items = listing.json_or_none()
        listed = isinstance(items, list) and any(isinstance(t, dict) and t.get("id") == tid for t in items)
        rec.check("AUTH-3", not listed, lambda: f"another key listed task {tid}: {listing.brief()}")




@pytest.mark.clauses("ENV-3")
@pytest.mark.cost(billable=1, priority=15)
def test_probe_image_seed(probe: Followed, client: Client, rec: Recorder, target: Target) -> None:
    final = _need_success(probe)
    ex = client.get(f"/mj/task/{final['id']}/image-seed")
    with rec.soft():
        check_no_server_error(rec, ex)
        check_compact(rec, ex)
        data = ex.json_or_none()
        if ex.status == 200 and isinstance(data, dict) and data.get("code") == 1:
            seed = data.get("result")
            rec.check("ENV-3", isinstance(seed, str) and seed.isdigit(),
                      lambda: f"image-seed result should be the seed as a string: {ex.brief()}")
        else:
            check_error_body(rec, ex, target.expect)
            rec.not_run("ENV-3", f"image-seed gave no seed: {ex.brief(120)}")


# -- buttons -------------------------------------------------------------------------------------------
def _button_of_kind(task: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The task's first button whose customId parses to this kind, if any."""
    return next((b for b in task.get("buttons") or [] if isinstance(b, dict) and
                 (p := parse(str(b.get("customId")))) is not None and p.kind == kind), None)


def _press_kind(client: Client, target: Target, rec: Recorder, observer: Observer, run: Run, task: dict[str, Any],
                kind: str, name: str, budget: int) -> Pressed:
    """Press the task's button of this kind, which it must offer and the target must accept (else the test
    needs what it lacks); `budget` billable tasks are spent by what follows."""
    button = _button_of_kind(task, kind)
    need(button is not None, f"the task offers no {name} button: {short(task.get('buttons'))}")
    assert button is not None
    need_budget(run, budget)
    pressed = press(client, target, rec, observer, task, button)
    need(pressed.task_id is not None, f"{name} was not accepted: {pressed.outcome}")
    return pressed


@pytest.fixture(scope="module")
def upscaled(probe: Followed, client: Client, target: Target, rec: Recorder, observer: Observer,
             run: Run) -> tuple[Pressed, Followed | None]:
    pressed = _press_kind(client, target, rec, observer, run, _need_success(probe), "upsample", "U1", 1)
    assert pressed.task_id is not None
    followed = Followed(submit=pressed.answer, task_id=pressed.task_id, state="", hook_token=None)
    follow(client, pressed.task_id, run.opts.task_timeout, target.local, followed.fetches)
    return pressed, followed


@pytest.mark.clauses("LIFE-9")
@pytest.mark.cost(billable=2, priority=20)
def test_press_upscale(upscaled: tuple[Pressed, Followed | None], client: Client, rec: Recorder,
                       observer: Observer) -> None:
    pressed, followed = upscaled
    assert followed is not None
    for ex in followed.fetches:
        data = ex.json_or_none() if ex.status == 200 else None
        if isinstance(data, dict):
            observer.observe(client, data, f"upscale fetch {pressed.task_id}", expected_id=pressed.task_id)
    need(followed.finished, f"the upscale did not finish ({describe_history(followed.snapshots)})")


@pytest.mark.clauses("LIFE-12")
@pytest.mark.cost(billable=4, priority=25)
def test_custom_zoom_opens_a_window(v7: Made, client: Client, rec: Recorder, observer: Observer, target: Target,
                                    run: Run) -> None:
    # a --v 7 upscale: V8 and V8.1 images have no Zoom buttons, and the deployment's default may be either
    pressed = _press_kind(client, target, rec, observer, run, v7.upscaled, "custom_zoom", "Custom Zoom", 2)
    need(pressed.modal, f"Custom Zoom did not open a window (code 21): {pressed.answer.brief()}")
    assert pressed.task_id is not None
    task = observer.wait_terminal(client, pressed.task_id)
    rec.check("LIFE-12", task.get("status") != "MODAL",
              lambda: f"task {pressed.task_id} still MODAL after /submit/modal")


@pytest.mark.clauses("LIFE-11")
@pytest.mark.cost(billable=1, priority=30)
def test_forced_failure_is_self_describing(client: Client, rec: Recorder, observer: Observer, target: Target,
                                           run: Run) -> None:
    need(target.is_mockmj, "a failure can only be forced on a mockmj (X-MockMJ-Outcome)")
    need_budget(run, 1)
    followed = submit_and_follow(client, target, "/mj/submit/imagine",
                                 submit_body("contract forced failure"), run.opts.task_timeout,
                                 headers={"X-MockMJ-Outcome": "fail:contract-forced-failure"}, with_hook=False)
    need(followed.task_id is not None, f"the submission was not accepted: {followed.submit.brief()}")
    for ex in followed.fetches:
        data = ex.json_or_none() if ex.status == 200 else None
        if isinstance(data, dict):
            observer.observe(client, data, f"forced-failure fetch {followed.task_id}",
                             expected_id=followed.task_id)
    final = followed.final or {}
    rec.check("LIFE-11", final.get("status") == "FAILURE",
              lambda: f"a task forced to fail ended {final.get('status')} "
                      f"({describe_history(followed.snapshots)})")
