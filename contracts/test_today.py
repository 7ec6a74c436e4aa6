"""What the API promises today, beyond the 88API page: buttons by model version and task kind, every offered
button pressable, true sizes by --ar, whole video batches, edits and retexture, describe by link, the
documented limits. Each clause quotes its source in sources.py and has a corruption in
tests/contract_selftest/corruptions.py that it must catch. (ERR-1, LIFE-17, URL-1 and CB-4 are checked on
every answer and task the run sees: checks.py, test_probe.py.)

Billable tests run after the older clauses (priority 70+), so a small budget still goes to those first; each
declares what it spends.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from typing import Any

import pytest

from .actions import press
from .checks import TERMINAL, check_no_server_error, is_video, short
from .clauses import Recorder
from .client import Client, Exchange, RelativeUrl
from .common import NoTaskWitness, applies, need, need_budget, png_data_url, post_with_room, token
from .grammar import parse
from .observe import Observer
from .probe import Followed, accepted_id
from .runtime import Run
from .target import Target
from .tasks import Made, button, finish, make_task, press_and_finish, submit
from .test_bad_input import _refused as refused
from .test_probe import _need_success as need_success
from .test_video import _mp4_verdict as mp4_verdict
from .versions import BUTTONS_BY_VERSION

RATIO_TOLERANCE = 0.03  # cells are whole pixels, rounded to multiples of 8 or 16
# One prompt flag per distinct row of the version table (rows that share their buttons are tried once).
VERSION_FLAGS = {"8.1": "--v 8.1", "7": "--v 7", "niji 7": "--niji 7", "6.1": "--v 6.1", "6": "--v 6",
                 "niji 6": "--niji 6", "5.2": "--v 5.2"}
assert set(VERSION_FLAGS) <= set(BUTTONS_BY_VERSION)


def room(client: Client, target: Target, path: str, body: Any) -> Exchange:
    """A submission that waits for room in the target's queue (a full queue is not the clause's business)."""
    return post_with_room(client, target.expect, path, body, client.timeout * 3, target.local)


def picture_size(client: Client, url: Any) -> tuple[int, int] | str:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(url, str) or not url:
        return f"no URL ({short(url)})"
    try:
        ex = client.download(url)
    except RelativeUrl as exc:
        return str(exc)
    if ex.status != 200:
        return f"GET {url} → HTTP {ex.status}"
    try:
        with Image.open(io.BytesIO(ex.body)) as img:
            img.load()
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:  # what Pillow says is the evidence
        return f"GET {url}: not an image ({exc})"


# -- BTN-1: the buttons of each model version ------------------------------------------------------------
@pytest.mark.clauses("BTN-1")
@pytest.mark.cost(billable=2 * len(VERSION_FLAGS), priority=70)
def test_buttons_by_model_version(client: Client, rec: Recorder, target: Target, run: Run,
                                  observer: Observer) -> None:
    """An Imagine per version row, its U1 pressed: the observer checks each finished task's buttons against the
    table (the version the task reports, else its prompt flag). A deployment that does not know a version
    answers with the version it did use, and is held to that row."""
    need_budget(run, 2 * len(VERSION_FLAGS))
    grids = {name: submit(client, target, rec, "/mj/submit/imagine",
                          {"prompt": f"contract buttons: a red fox in the snow {flag}"}, f"an Imagine with {flag}")
             for name, flag in VERSION_FLAGS.items()}
    for name, grid_id in grids.items():
        grid = finish(client, observer, grid_id, f"the {VERSION_FLAGS[name]} Imagine")
        press_and_finish(client, target, rec, observer, grid, "upsample", f"U1 of the {VERSION_FLAGS[name]} grid",
                         index=1)
    need(rec.results["BTN-1"].observations > 0, "no finished task had buttons the table could check")


# -- BTN-2: every offered button is accepted -------------------------------------------------------------
def _press_all(client: Client, target: Target, rec: Recorder, observer: Observer, task: dict[str, Any],
               skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Press every button of a finished task (a window is confirmed); new task ids by customId."""
    made: dict[str, str] = {}
    for b in task.get("buttons") or []:
        parsed = parse(str(b.get("customId"))) if isinstance(b, dict) else None
        if parsed is None or parsed.kind in skip:
            continue
        pressed = press(client, target, rec, observer, task, b)
        if pressed.task_id is not None:
            made[str(b.get("customId"))] = pressed.task_id
    return made


# Buttons per finished task of each kind the run makes: grid 9, upscale 15, video 5, video upscale 2,
# describe 5, shorten 6; a window (Custom Zoom, Vary (Region), PicReader, PromptAnalyzer) costs a second call.
PRESSES = 60


@pytest.mark.clauses("BTN-2", "LIFE-9")
@pytest.mark.cost(billable=PRESSES + 4, priority=71)
def test_every_offered_button_is_accepted(v7: Made, client: Client, rec: Recorder, target: Target, run: Run,
                                          observer: Observer) -> None:
    """Every button of a grid, an upscaled image, a video, a video upscale, a describe and a shorten, each
    pressed once on the same server: an offered button that is refused fails BTN-2 (never a skip)."""
    need_budget(run, PRESSES + 4)
    _press_all(client, target, rec, observer, v7.grid)
    made = _press_all(client, target, rec, observer, v7.upscaled)
    animate = button(v7.upscaled, "animate", "animate_low")
    video_id = made.get(str(animate.get("customId"))) if animate else None
    if video_id is not None:
        video = finish(client, observer, video_id, "the Animate (Low motion) video")
        ups = _press_all(client, target, rec, observer, video)
        first = button(video, "video_upscale", index=1)
        if first is not None and str(first.get("customId")) in ups:
            vup = finish(client, observer, ups[str(first["customId"])], "the video's U1")
            _press_all(client, target, rec, observer, vup)
    describe = make_task(client, target, rec, observer, "/mj/submit/describe", {"base64": png_data_url(96, 64)},
                         "a describe")
    _press_all(client, target, rec, observer, describe)
    shorten = make_task(client, target, rec, observer, "/mj/submit/shorten",
                        {"prompt": "a very detailed painting of a red fox sitting in the deep snow at dawn"},
                        "a shorten")
    _press_all(client, target, rec, observer, shorten)
    kinds = set(rec.results["BTN-2"].readings)
    rec.reading("BTN-2", f"{len(kinds)} button kinds pressed")
    need(bool(kinds), "no button was pressed")


# -- SIZE-1: sizes by --ar -----------------------------------------------------------------------------------
def _ratio_ok(size: tuple[int, int], ratio: float) -> bool:
    return abs((size[0] / size[1]) / ratio - 1) <= RATIO_TOLERANCE


@pytest.mark.clauses("SIZE-1")
@pytest.mark.cost(billable=5, priority=72)
def test_sizes_follow_the_aspect_ratio(v7: Made, probe: Followed, client: Client, rec: Recorder, target: Target,
                                       run: Run, observer: Observer) -> None:
    """The --v 7 --ar 2:3 grid is 2×2 cells of 2:3; its U1 is exactly one cell; Upscale (Subtle) and
    (Creative) are exactly twice U1. The probe (no --ar) is square; a --ar 16:9 grid is 16:9."""
    need_budget(run, 3)
    grid, u1 = picture_size(client, v7.grid.get("imageUrl")), picture_size(client, v7.upscaled.get("imageUrl"))
    with rec.soft():
        for what, size in (("the --ar 2:3 grid", grid), ("its U1", u1)):
            if isinstance(size, str):
                rec.fail("SIZE-1", f"{what}: {size}")
        if isinstance(grid, tuple):
            rec.check("SIZE-1", _ratio_ok(grid, 2 / 3) and grid[0] % 2 == 0 and grid[1] % 2 == 0,
                      lambda: f"a --ar 2:3 grid is {grid[0]}x{grid[1]}: not 2×2 cells of 2:3")
        if isinstance(grid, tuple) and isinstance(u1, tuple):
            rec.check("SIZE-1", u1 == (grid[0] // 2, grid[1] // 2),
                      lambda: f"U1 is {u1[0]}x{u1[1]}; one cell of the {grid[0]}x{grid[1]} grid is "
                              f"{grid[0] // 2}x{grid[1] // 2}")
    final = probe.final
    if final is not None and final.get("status") == "SUCCESS":
        square = picture_size(client, final.get("imageUrl"))
        rec.check("SIZE-1", isinstance(square, tuple) and _ratio_ok(square, 1.0),
                  lambda: f"the probe (no --ar, so 1:1) is {square}")
    wide = make_task(client, target, rec, observer, "/mj/submit/imagine",
                     {"prompt": "contract sizes: a wide harbour --v 7 --ar 16:9"}, "a --ar 16:9 Imagine")
    wide_size = picture_size(client, wide.get("imageUrl"))
    rec.check("SIZE-1", isinstance(wide_size, tuple) and _ratio_ok(wide_size, 16 / 9),
              lambda: f"a --ar 16:9 grid is {wide_size}")
    if not isinstance(u1, tuple):
        return
    for label in ("subtle", "creative"):
        big = press_and_finish(client, target, rec, observer, v7.upscaled, "upscale_more",
                               f"Upscale ({label.title()}) of U1", detail=f"upsample_v7_2x_{label}")
        size = picture_size(client, big.get("imageUrl"))
        rec.check("SIZE-1", size == (2 * u1[0], 2 * u1[1]),
                  lambda size=size, label=label: f"Upscale ({label.title()}) of a {u1[0]}x{u1[1]} U image is "
                                                 f"{size}, not twice it")


# -- VID-4: whole batches --------------------------------------------------------------------------------------
def _check_batch(client: Client, rec: Recorder, task: dict[str, Any], batch: int, what: str) -> None:
    videos, images = task.get("videoUrls"), task.get("imageUrls")
    with rec.soft():
        for name, items in (("videoUrls", videos), ("imageUrls", images)):
            rec.check("VID-4", isinstance(items, list) and len(items) == batch,
                      lambda name=name, items=items: f"{what}: a batch of {batch} should have {batch} {name}, has "
                                                     f"{len(items) if isinstance(items, list) else short(items)}")
        ups = [b for b in task.get("buttons") or [] if isinstance(b, dict)
               and (p := parse(str(b.get("customId")))) is not None and p.kind == "video_upscale"]
        rec.check("VID-4", len(ups) == batch, lambda: f"{what}: a batch of {batch} should offer {batch} U buttons, "
                                                      f"offers {[b.get('label') for b in ups]}")

        def image_verdict(url: Any) -> str:
            size = picture_size(client, url)
            return "ok" if isinstance(size, tuple) else size

        for i, item in enumerate(videos if isinstance(videos, list) else []):
            url = item.get("url") if isinstance(item, dict) else None
            verdict = mp4_verdict(client, url)
            rec.check("VID-4", verdict.startswith("ok"), lambda i=i, verdict=verdict: f"{what}: video {i}: {verdict}")
            thumb = image_verdict(item.get("thumbnail") if isinstance(item, dict) else None)
            rec.check("VID-4", thumb == "ok", lambda i=i, thumb=thumb: f"{what}: video {i}'s thumbnail: {thumb}")
        for i, item in enumerate(images if isinstance(images, list) else []):
            for key in ("url", "thumbnail"):
                verdict = image_verdict(item.get(key) if isinstance(item, dict) else None)
                rec.check("VID-4", verdict == "ok", lambda i=i, key=key, verdict=verdict:
                          f"{what}: imageUrls[{i}].{key}: {verdict}")


@pytest.mark.clauses("VID-4", "BTN-1")
@pytest.mark.cost(billable=2, priority=73)
def test_videos_match_their_batch(v7: Made, client: Client, rec: Recorder, target: Target, run: Run,
                                  observer: Observer) -> None:
    """A /mj/submit/video of batchSize 2, and Animate on the --v 7 U1 (the default batch, 4): every video, its
    thumbnail and its still are there and decode, with one U button per video."""
    need_budget(run, 2)
    two = make_task(client, target, rec, observer, "/mj/submit/video",
                    {"prompt": "contract video: waves roll in", "image": png_data_url(96, 64, (20, 60, 160)),
                     "batchSize": 2}, "a /mj/submit/video of batchSize 2")
    _check_batch(client, rec, two, 2, f"video task {two.get('id')} (batchSize 2)")
    four = press_and_finish(client, target, rec, observer, v7.upscaled, "animate", "Animate (Low motion)",
                            detail="animate_low")
    _check_batch(client, rec, four, 4, f"video task {four.get('id')} (Animate, default batch 4)")
    rec.check("VID-4", is_video(four), lambda: f"Animate made a {four.get('action')} task, not a video")


# -- EDIT-1 --------------------------------------------------------------------------------------------------
@pytest.mark.clauses("EDIT-1", "LIFE-8")
@pytest.mark.cost(billable=2, priority=74)
def test_edits_and_retexture_are_themselves(client: Client, rec: Recorder, target: Target, run: Run,
                                            observer: Observer) -> None:
    need_budget(run, 2)
    for path, action, command in (("/mj/submit/edits", "EDIT", "/edit"),
                                  ("/mj/submit/retexture", "RETEXTURE", "/retexture")):
        prompt = f"contract {action.lower()}: in winter light {token()}"
        ex = room(client, target, path, {"prompt": prompt, "image": png_data_url(120, 80, (230, 120, 30))})
        check_no_server_error(rec, ex)
        applies(ex.status != 404, f"the target has no {path} (new-api relays neither retexture nor edit): "
                                  f"{ex.brief(120)}")
        task_id = accepted_id(ex, target.expect)
        rec.check("EDIT-1", task_id is not None, lambda ex=ex, path=path: f"{path} was refused: {ex.brief()}")
        assert task_id is not None
        task = finish(client, observer, task_id, f"the {action} task")
        with rec.soft():
            rec.check("EDIT-1", task.get("action") == action,
                      lambda task=task, action=action, path=path:
                      f"{path} made a task of action {short(task.get('action'))}, not {action}")
            rec.check("EDIT-1", task.get("description") == f"{command} {prompt}",
                      lambda task=task, command=command, prompt=prompt:
                      f"description should be {command + ' ' + prompt!r}, is {short(task.get('description'))}")
            size = picture_size(client, task.get("imageUrl"))
            rec.check("EDIT-1", isinstance(size, tuple), lambda size=size, action=action: f"the {action} grid: {size}")


# -- DESC-2 --------------------------------------------------------------------------------------------------
@pytest.mark.clauses("DESC-2")
@pytest.mark.cost(billable=2, priority=75)
def test_describe_by_link(probe: Followed, client: Client, rec: Recorder, target: Target, run: Run,
                          observer: Observer) -> None:
    """Describe the probe's own image by its URL (a URL the target handed out, so any deployment can read it)."""
    final = need_success(probe)
    need_budget(run, 1)
    link = final.get("imageUrl")
    ex = room(client, target, "/mj/submit/describe", {"link": link})
    check_no_server_error(rec, ex)
    task_id = accepted_id(ex, target.expect)
    rec.check("DESC-2", task_id is not None, lambda: f"describe by link of the target's own image was refused: "
                                                     f"{ex.brief()}")
    assert task_id is not None
    task = finish(client, observer, task_id, "the describe by link")
    with rec.soft():
        rec.check("DESC-2", task.get("action") == "DESCRIBE", lambda: f"action {short(task.get('action'))}")
        text = task.get("prompt")
        rec.check("DESC-2", isinstance(text, str) and bool(text.strip()),
                  lambda: f"a finished describe by link carries no description: {short(task)}")


# -- LIM-1..3 ------------------------------------------------------------------------------------------------
MAX_PROMPT, MAX_STATE, MAX_HOOK = 6000, 255, 2000


@pytest.mark.clauses("LIM-1", "ERR-1")
@pytest.mark.cost(billable=4, priority=76)
def test_length_limits(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 4)
    refused(client, rec, target, run, "LIM-1", "/mj/submit/imagine", f"a prompt of {MAX_PROMPT + 1} characters",
            {"prompt": "a" * (MAX_PROMPT + 1)})
    refused(client, rec, target, run, "LIM-1", "/mj/submit/imagine", f"a state of {MAX_STATE + 1} characters",
            {"prompt": "a lighthouse", "state": "s" * (MAX_STATE + 1)})
    refused(client, rec, target, run, "LIM-1", "/mj/submit/imagine", f"a notifyHook of {MAX_HOOK + 1} characters",
            {"prompt": "a lighthouse", "notifyHook": "http://127.0.0.1/" + "h" * (MAX_HOOK + 1 - 17)})
    at_limit = "a lighthouse " + "b" * (MAX_PROMPT - 13)
    ex = room(client, target, "/mj/submit/imagine", {"prompt": at_limit})
    check_no_server_error(rec, ex)
    rec.check("LIM-1", accepted_id(ex, target.expect) is not None,
              lambda: f"a prompt of exactly {MAX_PROMPT} characters should be accepted: {ex.brief(200)}")


BODY_LIMIT = 32 * 1024 * 1024


@pytest.mark.clauses("LIM-2", "ERR-1")
@pytest.mark.cost(billable=1, priority=77)
def test_body_size_limit(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    applies(target.is_mockmj, "the body limit (32 MiB) is mockmj's own setting; deployments choose their own")
    need_budget(run, 1)
    witness = NoTaskWitness(client, rec, target.expect, "LIM-2")
    body = json.dumps({"prompt": "a lighthouse", "pad": "x" * BODY_LIMIT}).encode("ascii")
    ex = client.request("POST", "/mj/submit/imagine", data=body, headers={"Content-Type": "application/json"})
    with rec.soft():
        check_no_server_error(rec, ex)
        rec.check("LIM-2", ex.status == 413, lambda: f"a body of {len(body):,} bytes should be refused with HTTP "
                                                     f"413: {ex.brief(200)}")
        witness.verify(ex, "an oversized body")


LIST_LIMIT = 100
FILL_BATCH = 10  # an account runs 3 and queues 10 (code 23 beyond): fill the list ten at a time


def _until_finished(client: Client, run: Run, target: Target, task_ids: list[str]) -> None:
    """Poll the tasks in turn until each has finished (or the task timeout has passed)."""
    deadline = time.monotonic() + run.opts.task_timeout
    left = list(task_ids)
    while left and time.monotonic() < deadline:
        for task_id in list(left):
            ex = client.get(f"/mj/task/{task_id}/fetch")
            data = ex.json_or_none() if ex.status == 200 else None
            if isinstance(data, dict) and data.get("status") in TERMINAL:
                left.remove(task_id)
        time.sleep(0.02 if target.local else 2.0)


@pytest.mark.clauses("LIM-3")
@pytest.mark.cost(billable=LIST_LIMIT + 1, priority=90)
def test_task_list_is_the_latest_100(client: Client, rec: Recorder, target: Target, run: Run,
                                     observer: Observer) -> None:
    """Tops the key's tasks up to more than 100 (what the run made already counts), then lists them."""
    first = client.get("/mj/task/list")
    check_no_server_error(rec, first)
    applies(first.status != 404, f"the target has no GET /mj/task/list (new-api does not relay it): "
                                 f"{first.brief(120)}")
    listed = first.json_or_none()
    need(isinstance(listed, list), f"GET /mj/task/list did not answer an array: {first.brief()}")
    assert isinstance(listed, list)
    missing = LIST_LIMIT + 1 - len(listed)
    if missing > 0:
        need_budget(run, missing)
    newest = None
    for start in range(0, max(missing, 1), FILL_BATCH):
        ids = [submit(client, target, rec, "/mj/submit/imagine", {"prompt": f"contract list {i}: a pebble --v 7"},
                      "an Imagine to fill the list") for i in range(start, min(max(missing, 1), start + FILL_BATCH))]
        newest = ids[-1]
        _until_finished(client, run, target, ids)  # plain polling: filler tasks, their images are never looked at
    ex = client.get("/mj/task/list")
    items = ex.json_or_none()
    with rec.soft():
        rec.check("LIM-3", ex.status == 200 and isinstance(items, list),
                  lambda: f"GET /mj/task/list should answer an array: {ex.brief()}")
        if not isinstance(items, list):
            return
        rec.check("LIM-3", len(items) == LIST_LIMIT,
                  lambda: f"the key has more than {LIST_LIMIT} tasks; the list should hold the latest {LIST_LIMIT}, "
                          f"holds {len(items)}")
        times = [t.get("submitTime") for t in items if isinstance(t, dict)]
        ordered = all(isinstance(a, int) and isinstance(b, int) and a >= b for a, b in itertools.pairwise(times))
        rec.check("LIM-3", ordered, lambda: "the list is not newest first by submitTime")
        rec.check("LIM-3", bool(items) and isinstance(items[0], dict) and items[0].get("id") == newest,
                  lambda: f"the newest task {newest} should come first, got {short(items[0]) if items else '[]'}")

