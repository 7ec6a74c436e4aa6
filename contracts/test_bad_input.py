"""Bad input: refused with a documented code or status, never a 5xx, and no task created.

"No task created" is checked through the public API only: the answer carries no task id (or the id
it carries does not fetch), and GET /mj/task/list shows no new task when the target has that list.
Every submission here is billable, so each test declares and checks its cost.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .checks import check_error_body, check_no_server_error, check_reading, check_submit_envelope, short
from .clauses import Recorder
from .client import Client, Exchange
from .common import (
    NoTaskWitness,
    need,
    need_budget,
    png_data_url,
    undecodable_data_url,
    unknown_task_id,
)
from .dialects import body_code
from .observe import Observer, describe_history
from .probe import Followed, accepted_id, follow
from .runtime import Run
from .target import Target


def _refused(client: Client, rec: Recorder, target: Target, run: Run, cid: str, path: str, what: str,
             body: Any = None, raw: bytes | None = None, readings: str = "validation") -> Exchange:
    """Send one bad request and check: no 5xx, a documented refusal, the error body, no new task."""
    need_budget(run, 1)
    witness = NoTaskWitness(client, rec, target.expect, cid)
    if raw is not None:
        ex = client.request("POST", path, data=raw, headers={"Content-Type": "application/json"})
    else:
        ex = client.post(path, body)
    expect = target.expect
    allowed = expect.validation if readings == "validation" else expect.unknown_task_write + expect.validation
    with rec.soft():
        check_no_server_error(rec, ex)
        check_error_body(rec, ex, expect)
        if ex.status == 200:
            check_submit_envelope(rec, ex, expect)
        check_reading(rec, cid, allowed, ex, what)
        witness.verify(ex, what)
    return ex


def _message(rec: Recorder, target: Target, ex: Exchange, rule: str, field: str) -> None:
    """BAD-6: the proxy's exact upstream message, or (88API) a description that names the field."""
    data = ex.json_or_none()
    desc = data.get("description") if isinstance(data, dict) else None
    if ex.status == 400 and target.expect.spring_errors:
        rec.reading("BAD-6", "HTTP 400 Spring error: no message to compare")
        return
    exact = target.expect.param_messages.get(rule)
    if exact is not None:
        rec.check("BAD-6", desc == exact, lambda: f"expected description {exact!r} (upstream), got {short(desc)}")
        rec.reading("BAD-6", "exact upstream message")
    else:
        ok = isinstance(desc, str) and field.lower() in desc.lower()
        rec.check("BAD-6", ok, lambda: f"the description should name {field!r}: {ex.brief()}")
        rec.reading("BAD-6", "description names the field")


@pytest.mark.clauses("BAD-2", "BAD-6", "ERR-1")
@pytest.mark.cost(billable=1, priority=16)
def test_missing_prompt(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    ex = _refused(client, rec, target, run, "BAD-2", "/mj/submit/imagine", "imagine without prompt",
                  {"botType": "MID_JOURNEY", "base64Array": []})
    with rec.soft():
        _message(rec, target, ex, "prompt_blank", "prompt")


@pytest.mark.clauses("BAD-3", "BAD-6")
@pytest.mark.cost(billable=1, priority=17)
def test_describe_not_a_data_url(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    ex = _refused(client, rec, target, run, "BAD-3", "/mj/submit/describe", "describe of a non-data-URL",
                  {"base64": "this-is-not-a-data-url"})
    with rec.soft():
        _message(rec, target, ex, "base64_format", "base64")


@pytest.mark.clauses("BAD-2", "BAD-1")
@pytest.mark.cost(billable=1, priority=40)
def test_submit_malformed_json(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    ex = _refused(client, rec, target, run, "BAD-2", "/mj/submit/imagine", "malformed JSON",
                  raw=b'{"prompt": "cat", ')
    rec.check("BAD-2", ex.status == 400, lambda: f"malformed JSON should be HTTP 400: {ex.brief()}")


@pytest.mark.clauses("BAD-2")
@pytest.mark.cost(billable=1, priority=41)
def test_prompt_of_wrong_type(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    _refused(client, rec, target, run, "BAD-2", "/mj/submit/imagine", "prompt given as an object",
             {"prompt": {"text": "cat"}})


@pytest.mark.clauses("BAD-2")
@pytest.mark.cost(billable=1, priority=42)
def test_blend_unknown_dimensions(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    _refused(client, rec, target, run, "BAD-2", "/mj/submit/blend", "blend with dimensions WIDE",
             {"base64Array": [png_data_url(), png_data_url(colour=(20, 90, 200))], "dimensions": "WIDE"})


@pytest.mark.clauses("BAD-3", "BAD-6")
@pytest.mark.cost(billable=1, priority=43)
def test_blend_one_image(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    ex = _refused(client, rec, target, run, "BAD-3", "/mj/submit/blend", "blend of one image",
                  {"base64Array": [png_data_url()], "dimensions": "SQUARE"})
    with rec.soft():
        _message(rec, target, ex, "base64_list", "base64")


@pytest.mark.clauses("BAD-3")
@pytest.mark.cost(billable=1, priority=44)
def test_swap_face_without_images(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    _refused(client, rec, target, run, "BAD-3", "/mj/insight-face/swap", "face swap of two non-images",
             {"sourceBase64": "not-an-image", "targetBase64": "neither-is-this"})


@pytest.mark.clauses("BAD-3")
@pytest.mark.cost(billable=1, priority=45)
def test_describe_undecodable_image(client: Client, rec: Recorder, target: Target, run: Run,
                                    observer: Observer) -> None:
    """A well-formed data URL whose bytes are no image: refused at submit, or (as the upstream proxy,
    which never decodes) accepted and then FAILURE. Both are documented; a SUCCESS is not."""
    need_budget(run, 1)
    witness = NoTaskWitness(client, rec, target.expect, "BAD-3")
    ex = client.post("/mj/submit/describe", {"base64": undecodable_data_url()})
    with rec.soft():
        check_no_server_error(rec, ex)
        check_error_body(rec, ex, target.expect)
    tid = accepted_id(ex, target.expect)
    if tid is None:
        with rec.soft():
            check_reading(rec, "BAD-3", target.expect.validation, ex, "describe of undecodable bytes")
            witness.verify(ex, "describe of undecodable bytes")
        return
    followed = Followed(submit=ex, task_id=tid, state="", hook_token=None)
    follow(client, tid, run.opts.task_timeout, target.local, followed.fetches)
    final = followed.final or {}
    rec.reading("BAD-3", "undecodable image accepted at submit, then the task fails (upstream)")
    rec.check("BAD-3", final.get("status") == "FAILURE",
              lambda: f"describe of undecodable bytes was accepted (task {tid}) and ended "
                      f"{final.get('status')} ({describe_history(followed.snapshots)}), not FAILURE")


@pytest.mark.clauses("BAD-5", "ERR-1")
@pytest.mark.cost(billable=1, priority=46)
def test_action_on_unknown_task(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    _refused(client, rec, target, run, "BAD-5", "/mj/submit/action", "action on an unknown task",
             {"taskId": unknown_task_id(), "customId": f"MJ::JOB::upsample::1::{uuid.uuid4()}"}, readings="write")


@pytest.mark.clauses("BAD-5")
@pytest.mark.cost(billable=1, priority=47)
def test_modal_on_unknown_task(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    _refused(client, rec, target, run, "BAD-5", "/mj/submit/modal", "modal on an unknown task",
             {"taskId": unknown_task_id(), "prompt": "contract modal"}, readings="write")


@pytest.mark.clauses("BAD-5")
@pytest.mark.cost(billable=2, priority=48)
def test_custom_id_the_task_does_not_offer(probe: Followed, client: Client, rec: Recorder, target: Target,
                                           run: Run) -> None:
    need(probe.task_id is not None and probe.final is not None and probe.final.get("status") == "SUCCESS",
         "the probe task did not reach SUCCESS")
    foreign = f"MJ::JOB::upsample::1::{uuid.uuid4()}"
    ex = _refused(client, rec, target, run, "BAD-5", "/mj/submit/action", "a customId the task does not offer",
                  {"taskId": probe.task_id, "customId": foreign}, readings="write")
    rec.reading("BAD-5", f"unknown customId answered with code {body_code(ex)} / HTTP {ex.status}")
