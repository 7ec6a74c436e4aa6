"""Clauses for documented, checkable sentences the first clause list left out: the fields
of a finished task of each action, what documented request fields change in the result, the upload and
image-format promises. Each quotes its sentence in sources.py; each has a corruption in
tests/contract_selftest/ that it must catch.

Billable tests come after the others (priority 18-19 on the probe, 61+ for their own submissions), so a
small budget still goes to the original clauses first.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest

from .checks import check_no_server_error, short
from .clauses import Recorder
from .client import Client
from .common import applies, need, need_budget, png_data_url, post_with_room
from .dialects import body_code
from .observe import describe_history
from .probe import Followed, accepted_id, follow, submit_and_follow
from .runtime import Run
from .target import Target
from .test_bad_input import _refused as refused
from .test_probe import _need_success as need_success

BUTTON_STYLES = (2, 3)  # the 88API buttons table: "style Style (2=Primary, 3=Green)"
DIMENSIONS = {"PORTRAIT": 2 / 3, "SQUARE": 1.0, "LANDSCAPE": 3 / 2}  # width / height, as documented
RATIO_TOLERANCE = 0.03  # images are whole pixels; Midjourney rounds sizes to multiples of 8 or 16
FORMATS = (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp"))


def data_url(fmt: str, mime: str, size: tuple[int, int] = (64, 64)) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (60, 120, 200)).save(buf, format=fmt)
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _finished(followed: Followed, what: str) -> dict[str, Any]:
    need(followed.task_id is not None, f"the {what} was not accepted: {followed.submit.brief()}")
    final = followed.final
    need(final is not None and final.get("status") == "SUCCESS",
         f"the {what} did not reach SUCCESS ({describe_history(followed.snapshots)})")
    assert final is not None
    return final


def _check_text(rec: Recorder, cid: str, value: Any, what: str) -> None:
    rec.check(cid, isinstance(value, str) and bool(value.strip()), lambda: f"{what}: {short(value)}")


def _check_action(rec: Recorder, cid: str, task: dict[str, Any], action: str) -> None:
    rec.check(cid, task.get("action") == action, lambda: f"task {task.get('id')} should be {action}: "
                                                         f"action {short(task.get('action'))}")


def _image_size(client: Client, url: Any) -> tuple[int, int] | str:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(url, str) or not url:
        return f"no imageUrl ({short(url)})"
    ex = client.download(url)
    if ex.status != 200:
        return f"GET {url} → HTTP {ex.status}"
    try:
        with Image.open(io.BytesIO(ex.body)) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        return f"GET {url}: not an image ({exc})"


# -- the probe's fields ----------------------------------------------------------------------------------
@pytest.mark.clauses("TASK-5")
@pytest.mark.cost(billable=1, priority=18)
def test_probe_buttons_carry_the_documented_properties(probe: Followed, rec: Recorder) -> None:
    final = need_success(probe)
    buttons = final.get("buttons")
    need(isinstance(buttons, list) and bool(buttons), "the probe finished without buttons (LIFE-8 says more)")
    assert isinstance(buttons, list)
    with rec.soft():
        for b in buttons:
            ok = (isinstance(b, dict) and isinstance(b.get("customId"), str) and bool(b["customId"])
                  and isinstance(b.get("emoji"), str) and isinstance(b.get("label"), str)
                  and b.get("style") in BUTTON_STYLES and isinstance(b.get("type"), int)
                  and not isinstance(b.get("type"), bool))
            rec.check("TASK-5", ok, lambda b=b: f"button {short(b)}: wants customId (non-empty), emoji and label "
                                                f"strings, style 2 or 3, type an integer")


@pytest.mark.clauses("TASK-6")
@pytest.mark.cost(billable=1, priority=19)
def test_probe_keeps_the_prompt(probe: Followed, rec: Recorder) -> None:
    final = need_success(probe)
    sent = str((probe.submit.request_body or {}).get("prompt", "")).strip()
    with rec.soft():
        rec.check("TASK-6", str(final.get("prompt", "")).strip() == sent,
                  lambda: f"prompt should be the submitted {sent!r}, is {short(final.get('prompt'))}")
        _check_text(rec, "TASK-6", final.get("promptEn"), "a SUCCESS Imagine should carry its English prompt in "
                                                          "promptEn")


# -- actions other than Imagine --------------------------------------------------------------------------
@pytest.mark.clauses("LIFE-13")
@pytest.mark.cost(billable=1, priority=61)
def test_blend_dimensions_shape_the_image(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 1)
    body = {"base64Array": [png_data_url(64, 64, (200, 80, 40)), png_data_url(64, 64, (40, 80, 200))],
            "dimensions": "PORTRAIT"}
    followed = submit_and_follow(client, target, "/mj/submit/blend", body, run.opts.task_timeout, with_hook=False)
    final = _finished(followed, "PORTRAIT blend")
    size = _image_size(client, final.get("imageUrl"))
    with rec.soft():
        _check_action(rec, "LIFE-13", final, "BLEND")
        if isinstance(size, str):
            rec.fail("LIFE-13", f"blend {final.get('id')}: {size}")
        else:
            ratio = size[0] / size[1]
            rec.reading("LIFE-13", f"PORTRAIT → {size[0]}x{size[1]}")
            rec.check("LIFE-13", abs(ratio / DIMENSIONS["PORTRAIT"] - 1) <= RATIO_TOLERANCE,
                      lambda: f"dimensions PORTRAIT (2:3) gave a {size[0]}x{size[1]} image (ratio {ratio:.3f})")


@pytest.mark.clauses("LIFE-14")
@pytest.mark.cost(billable=1, priority=62)
def test_describe_answers_with_text(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 1)
    followed = submit_and_follow(client, target, "/mj/submit/describe", {"base64": png_data_url()},
                                 run.opts.task_timeout, with_hook=False)
    final = _finished(followed, "describe")
    with rec.soft():
        _check_action(rec, "LIFE-14", final, "DESCRIBE")
        _check_text(rec, "LIFE-14", final.get("prompt"), "a SUCCESS describe should carry the description in prompt")


@pytest.mark.clauses("ENV-8")
@pytest.mark.cost(billable=1, priority=63)
def test_upload_answers_the_image_urls(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 1)
    ex = client.post("/mj/submit/upload-discord-images", {"base64Array": [png_data_url()]})
    check_no_server_error(rec, ex)
    applies(ex.status != 404, f"the target has no /mj/submit/upload-discord-images: {ex.brief()}")
    data = ex.json_or_none()
    with rec.soft():
        rec.check("ENV-8", ex.status == 200 and body_code(ex) in target.expect.accepted_codes,
                  lambda: f"one PNG to upload should be accepted: {ex.brief()}")
        result = data.get("result") if isinstance(data, dict) else None
        rec.check("ENV-8", isinstance(result, list) and len(result) == 1
                  and all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in result),
                  lambda: f"result should be an array with the uploaded image's URL: {short(result)}")


@pytest.mark.clauses("IMG-1")
@pytest.mark.cost(billable=4, priority=64)
def test_every_documented_image_format_is_accepted(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, len(FORMATS))
    with rec.soft():
        for fmt, mime in FORMATS:
            ex = post_with_room(client, target.expect, "/mj/submit/describe", {"base64": data_url(fmt, mime)},
                                client.timeout * 3, target.local)
            check_no_server_error(rec, ex)
            task_id = accepted_id(ex, target.expect)
            rec.check("IMG-1", task_id is not None, lambda ex=ex, fmt=fmt: f"a {fmt} image was refused: {ex.brief()}")
            if task_id is not None:
                got = client.get(f"/mj/task/{task_id}/fetch")
                rec.check("IMG-1", got.status == 200 and isinstance(got.json_or_none(), dict),
                          lambda got=got, fmt=fmt: f"the {fmt} describe task cannot be fetched: {got.brief()}")


# -- required request fields and formats ------------------------------------------------------------------
@pytest.mark.clauses("BAD-7")
@pytest.mark.cost(billable=2, priority=65)
def test_swap_face_needs_both_images(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 2)
    refused(client, rec, target, run, "BAD-7", "/mj/insight-face/swap", "face swap without targetBase64",
            {"sourceBase64": png_data_url()})
    refused(client, rec, target, run, "BAD-7", "/mj/insight-face/swap", "face swap without sourceBase64",
            {"targetBase64": png_data_url(colour=(20, 90, 200))})


@pytest.mark.clauses("BAD-8")
@pytest.mark.cost(billable=1, priority=66)
def test_imagine_images_need_the_mime_prefix(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    bare = png_data_url().split(",", 1)[1]  # the same image, without "data:image/png;base64,"
    refused(client, rec, target, run, "BAD-8", "/mj/submit/imagine", "an Imagine image without its MIME prefix",
            {"prompt": "a lighthouse", "base64Array": [bare]})


@pytest.mark.clauses("LIFE-15")
@pytest.mark.cost(billable=1, priority=67)
def test_imagine_with_a_reference_image(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 1)
    prompt = "a lighthouse in the style of the reference"
    followed = submit_and_follow(client, target, "/mj/submit/imagine",
                                 {"prompt": prompt, "base64Array": [png_data_url(64, 64, (30, 160, 90))]},
                                 run.opts.task_timeout, with_hook=False)
    final = _finished(followed, "Imagine with a reference image")
    prompt_en = str(final.get("promptEn") or "")
    head = prompt_en.split(" ", 1)[0]
    with rec.soft():
        _check_action(rec, "LIFE-15", final, "IMAGINE")
        rec.check("LIFE-15", head.startswith(("http://", "https://")) and prompt_en.rstrip().endswith(prompt),
                  lambda: f"promptEn should be the uploaded image's URL, then the prompt: {short(prompt_en)}")


@pytest.mark.clauses("LIFE-16")
@pytest.mark.cost(billable=1, priority=68)
def test_a_cancelled_task_ends_cancelled(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 1)
    submit = post_with_room(client, target.expect, "/mj/submit/imagine", {"prompt": "a lighthouse, to be cancelled"},
                            client.timeout * 3, target.local)
    task_id = accepted_id(submit, target.expect)
    need(task_id is not None, f"the Imagine to cancel was not accepted: {submit.brief()}")
    cancel = client.post(f"/mj/task/{task_id}/cancel", {})
    check_no_server_error(rec, cancel)
    applies(cancel.status != 404, f"the target has no POST /mj/task/{{id}}/cancel (the open-source proxy has none): "
                               f"{cancel.brief()}")
    if not (cancel.status == 200 and body_code(cancel) in target.expect.accepted_codes):
        got = client.get(f"/mj/task/{task_id}/fetch").json_or_none() or {}
        need(got.get("status") not in ("SUCCESS", "FAILURE"), f"the task finished before the cancel: {cancel.brief()}")
        rec.fail("LIFE-16", f"cancelling an unfinished task was refused: {cancel.brief()}")
    fetches: list[Any] = []
    follow(client, str(task_id), run.opts.task_timeout, target.local, fetches)
    final = fetches[-1].json_or_none() if fetches else None
    with rec.soft():
        status = final.get("status") if isinstance(final, dict) else None
        if status == "FAILURE":
            rec.reading("LIFE-16", "FAILURE with a failReason (trueai)")
            rec.check("LIFE-16", bool(str(final.get("failReason") or "").strip()),  # type: ignore[union-attr]
                      lambda: f"a cancel that ends FAILURE should say why: {short(final)}")
        else:
            rec.reading("LIFE-16", "CANCEL (midjourney-proxy-plus)")
            rec.check("LIFE-16", status == "CANCEL", lambda: f"a cancelled task should end CANCEL: {short(final)}")
        if isinstance(final, dict):
            rec.check("LIFE-16", isinstance(final.get("finishTime"), int),
                      lambda: f"a cancelled task should carry its finishTime: {short(final)}")
