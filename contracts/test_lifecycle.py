"""The lifecycle as a hypothesis state machine: submit, poll, wait, press buttons, list.

Every snapshot of every task (fetch or list-by-condition) goes through the observer, which checks
the snapshot (TASK-*, LIFE-3/5/11) and the step from the previous one (LIFE-1/2/4), plus the image
and buttons of a SUCCESS (LIFE-6/7/8). Pressing checks LIFE-9 (and LIFE-12 for windows); listing
checks LIFE-10. Submissions are billable: a precondition keeps them inside the budget.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, multiple, precondition, rule, run_state_machine_as_test

from .actions import press
from .checks import TASK_KEYS, TERMINAL, check_no_server_error, check_submit_envelope
from .clauses import Recorder
from .client import Client
from .common import need_budget, png_data_url, submit_body, unknown_task_id
from .grammar import parse
from .observe import Observer
from .runtime import Run
from .target import Target

PROMPTS = st.sampled_from([
    "a lighthouse at dusk", "a red fox in the snow --ar 3:2", "isometric city block --v 6.1",
    "watercolour koi pond --niji 6", "portrait of an astronaut cat --ar 2:3 --v 5.2",
])
KINDS = st.sampled_from(["imagine", "imagine", "imagine", "blend", "describe", "shorten"])
SKIP_KINDS = {"bookmark", "animate"}  # no new task / not in the documented action set


def _body(kind: str, prompt: str) -> tuple[str, dict[str, Any]]:
    if kind == "blend":
        return "/mj/submit/blend", {"base64Array": [png_data_url(), png_data_url(colour=(30, 120, 220))],
                                    "dimensions": "SQUARE"}
    if kind == "describe":
        return "/mj/submit/describe", {"base64": png_data_url(96, 64, (10, 160, 90))}
    if kind == "shorten":
        return "/mj/submit/shorten", {"prompt": prompt}
    return "/mj/submit/imagine", submit_body(prompt)


class Lifecycle(RuleBasedStateMachine):
    tasks = Bundle("tasks")

    def __init__(self, run: Run, client: Client, target: Target, rec: Recorder, observer: Observer,
                 max_submits: int) -> None:
        super().__init__()
        self.run, self.client, self.target, self.rec, self.obs = run, client, target, rec, observer
        self.max_submits = max_submits
        self.submits = 0
        self.mine: list[str] = []

    def _can_spend(self, n: int) -> bool:
        return self.submits + n <= self.max_submits and self.run.budget.remaining() >= n

    @precondition(lambda self: self._can_spend(1))
    @rule(target=tasks, kind=KINDS, prompt=PROMPTS)
    def submit(self, kind: str, prompt: str) -> Any:
        path, body = _body(kind, prompt)
        self.submits += 1
        ex = self.client.post(path, body)
        with self.rec.soft():
            check_no_server_error(self.rec, ex)
            tid = check_submit_envelope(self.rec, ex, self.target.expect)
        if tid is None:
            return multiple()
        self.mine.append(tid)
        self.obs.fetch(self.client, tid)
        return tid

    @rule(task=tasks)
    def poll(self, task: str) -> None:
        self.obs.fetch(self.client, task)

    @rule(task=tasks)
    def wait_until_done(self, task: str) -> None:
        self.obs.wait_terminal(self.client, task)

    @precondition(lambda self: self._can_spend(2))
    @rule(target=tasks, task=tasks, data=st.data())
    def press_a_button(self, task: str, data: st.DataObject) -> Any:
        last = self.obs.watched(task).last
        if not last or last.get("status") != "SUCCESS":
            return multiple()
        buttons = [b for b in last.get("buttons") or [] if isinstance(b, dict)
                   and (p := parse(str(b.get("customId")))) is not None and p.kind not in SKIP_KINDS]
        if not buttons:
            return multiple()
        button = data.draw(st.sampled_from(buttons), label="button")
        self.submits += 2 if (p := parse(str(button.get("customId")))) and p.kind in ("custom_zoom", "inpaint") \
            else 1
        pressed = press(self.client, self.target, self.rec, self.obs, last, button)
        if pressed.task_id is None:
            return multiple()
        self.mine.append(pressed.task_id)
        return pressed.task_id

    @precondition(lambda self: bool(self.mine))
    @rule(data=st.data())
    def list_by_condition(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(st.sampled_from(self.mine), min_size=1, max_size=4, unique=True), label="ids")
        before = {i: self.obs.watched(i).last for i in ids}
        ex, listed = self.obs.list_by_ids(self.client, [*ids, unknown_task_id()])
        with self.rec.soft():
            check_no_server_error(self.rec, ex)
            self.rec.check("LIFE-10", ex.status == 200 and listed is not None,
                           lambda: f"list-by-condition should answer a bare array: {ex.brief()}")
            if listed is None:
                return
            got = [t.get("id") if isinstance(t, dict) else t for t in listed]
            self.rec.check("LIFE-10", sorted(map(str, got)) == sorted(ids),
                           lambda: f"asked for {sorted(ids)} (+ an unknown id), got {got}")
            for item in listed:
                if not isinstance(item, dict) or item.get("id") not in before:
                    continue
                prev = before[item["id"]]
                if prev is not None and prev.get("status") in TERMINAL:
                    diff = [k for k in TASK_KEYS if item.get(k) != prev.get(k)]
                    self.rec.check("LIFE-10", not diff,
                                   lambda item=item, diff=diff: f"finished task {item['id']}: list-by-condition "
                                                                f"differs from fetch on {diff}")
                self.obs.observe(self.client, item, f"list-by-condition {item['id']}", expected_id=item["id"])

    def teardown(self) -> None:
        # leave nothing running: every task is followed to its end, which also checks its whole path
        for tid in self.mine:
            if not self.obs.watched(tid).terminal:
                self.obs.wait_terminal(self.client, tid)


@pytest.mark.clauses("LIFE-1", "LIFE-2", "LIFE-3", "LIFE-4", "LIFE-5", "LIFE-6", "LIFE-7", "LIFE-8", "LIFE-9",
                     "LIFE-10", "TASK-1", "TASK-2", "TASK-3", "TASK-4")
@pytest.mark.cost(billable=1, priority=60)
def test_lifecycle_machine(run: Run, client: Client, target: Target, rec: Recorder, observer: Observer) -> None:
    need_budget(run, 1)
    timing = target.mock_info.get("timing") if target.is_mockmj else None
    quick = timing == "per-poll"
    if run.opts.limited:
        examples, steps, max_submits = 1, 8, int(run.budget.remaining())
    else:
        examples, steps, max_submits = (8, 12, 6) if quick else (3, 8, 4)
    # no shrinking: the recorder already holds the evidence of the first failure, and shrinking replays
    # requests (billable ones against a paid API)
    phases = [Phase.explicit, Phase.generate]
    config = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                      derandomize=run.opts.seed is None, phases=phases, report_multiple_bugs=False,
                      suppress_health_check=list(HealthCheck))
    # derandomized by default (the same scenarios every run, as CI needs); --mj-seed lets it explore
    run_state_machine_as_test(lambda: Lifecycle(run, client, target, rec, observer, max_submits), settings=config)
