"""Pressing buttons: /mj/submit/action, and /mj/submit/modal when the button opens a window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .checks import check_no_server_error, check_submit_envelope, short
from .clauses import Recorder
from .client import Client, Exchange
from .common import png_data_url, post_with_room, token
from .dialects import body_code
from .grammar import ACTION_FOR_KIND, parse
from .observe import Observer
from .target import Target

MODAL_DESCRIPTIONS = ("Waiting for window confirm", "窗口等待")


@dataclass
class Pressed:
    parent_id: str
    custom_id: str
    kind: str
    answer: Exchange
    task_id: str | None = None
    modal: bool = False
    outcome: str = ""  # why nothing was created, when nothing was

    def expected_actions(self, parent: dict[str, Any]) -> frozenset[str]:
        allowed = ACTION_FOR_KIND.get(self.kind, frozenset())
        if self.kind == "reroll":
            allowed = allowed | {str(parent.get("action"))}
        return allowed


def modal_prompt(kind: str, final_prompt: Any) -> str:
    prompt = final_prompt if isinstance(final_prompt, str) and final_prompt.strip() else "contract modal"
    if kind == "custom_zoom" and not re.search(r"--zoom\s+[0-9.]+", prompt):
        prompt = f"{prompt} --zoom 1.5"  # upstream §10.3: CustomZoom needs --zoom between 1 and 2
    return prompt


def press(client: Client, target: Target, rec: Recorder, observer: Observer, parent: dict[str, Any],
          button: dict[str, Any], hook_url: str | None = None) -> Pressed:
    """Press one button of a SUCCESS task; confirm the window if one opens; check the new task."""
    custom_id = str(button.get("customId"))
    parsed = parse(custom_id)
    kind = parsed.kind if parsed else "?"
    body: dict[str, Any] = {"taskId": str(parent["id"]), "customId": custom_id, "chooseSameChannel": True,
                            "state": f"contract-press-{token()}"}
    if hook_url:
        body["notifyHook"] = hook_url
    # a full queue is no fault of the button: wait for room as a client would (a refusal that stays is told below)
    ex = post_with_room(client, target.expect, "/mj/submit/action", body, client.timeout * 3, target.local)
    pressed = Pressed(parent_id=str(parent["id"]), custom_id=custom_id, kind=kind, answer=ex)
    with rec.soft():
        check_no_server_error(rec, ex)
        new_id = check_submit_envelope(rec, ex, target.expect)
    code = body_code(ex)
    if new_id is None:
        pressed.outcome = f"not accepted: {ex.brief()}"
        if ex.status == 429 or code in target.expect.capacity_codes:
            # busy, out of accounts or out of balance: nothing is wrong with the button, it went unchecked
            rec.not_run("BTN-2", f"{custom_id} on task {pressed.parent_id} was refused for capacity or balance: "
                                 f"{ex.brief(160)}")
        else:
            # the server offered this button on this task: refusing it is the fault, never a reason to skip
            rec.record("BTN-2", False, f"task {pressed.parent_id} offered {custom_id} ({kind}), and pressing it "
                                       f"was refused: {ex.brief()}")
        return pressed
    rec.record("BTN-2", True)
    rec.reading("BTN-2", kind)
    pressed.task_id = new_id
    if code == target.expect.modal_code:
        pressed.modal = True
        confirm_modal(client, target, rec, observer, pressed, ex, hook_url)
    else:
        task = observer.fetch(client, new_id)
        check_action(rec, pressed, parent, task)
    return pressed


def confirm_modal(client: Client, target: Target, rec: Recorder, observer: Observer, pressed: Pressed,
                  ex: Exchange, hook_url: str | None) -> None:
    data = ex.json_or_none() or {}
    props = data.get("properties") if isinstance(data.get("properties"), dict) else {}
    assert pressed.task_id is not None
    task = observer.fetch(client, pressed.task_id)
    with rec.soft():
        desc = data.get("description")
        rec.check("LIFE-12", desc in MODAL_DESCRIPTIONS,
                  lambda: f"code 21 for {pressed.custom_id} with description {short(desc)}; documented: "
                          f"{' / '.join(MODAL_DESCRIPTIONS)}")
        rec.check("LIFE-12", isinstance(props.get("finalPrompt"), str) and props.get("remix") is True,
                  lambda: f"code 21 should carry properties.finalPrompt and remix:true: {ex.brief()}")
        rec.check("LIFE-12", task.get("status") == "MODAL",
                  lambda: f"the task of a code-21 answer should be MODAL, is {task.get('status')}")
    body: dict[str, Any] = {"taskId": pressed.task_id, "prompt": modal_prompt(pressed.kind, props.get(
        "finalPrompt"))}
    if pressed.kind == "inpaint":
        body["maskBase64"] = png_data_url(64, 64, (255, 255, 255))
    if hook_url:
        body["notifyHook"] = hook_url
    answer = post_with_room(client, target.expect, "/mj/submit/modal", body, client.timeout * 3, target.local)
    with rec.soft():
        check_no_server_error(rec, answer)
        confirmed = check_submit_envelope(rec, answer, target.expect)
        rec.check("LIFE-12", confirmed == pressed.task_id,
                  lambda: f"/submit/modal should continue task {pressed.task_id}: {answer.brief()}")
    if confirmed:
        after = observer.fetch(client, pressed.task_id)
        parent = observer.watched(pressed.parent_id).last or {}
        check_action(rec, pressed, parent, after)


def check_action(rec: Recorder, pressed: Pressed, parent: dict[str, Any], task: dict[str, Any]) -> None:
    allowed = pressed.expected_actions(parent)
    if not allowed:
        return
    action = task.get("action")
    rec.check("LIFE-9", action in allowed,
              lambda: f"{pressed.custom_id} on task {pressed.parent_id} created task {task.get('id')} "
                      f"with action {action}; expected {' or '.join(sorted(allowed))}")
