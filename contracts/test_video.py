"""Today's Midjourney (midjourney-2025 §1-3): a U result is its grid cell, an upscaled image animates into
videos that download as MP4, and a video extends through /mj/submit/video, the only video path a new-api
relay carries. Speaks HTTP only; videos are decoded with PyAV, images with Pillow.

Video tasks are polled here with plain fetches rather than through the observer: their action (VIDEO)
and buttons (video_virtual_upscale) lie outside the 88API document the TASK-3 and LIFE-7 clauses check.
"""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from .actions import Pressed, press
from .checks import TERMINAL, check_no_server_error, check_submit_envelope, short
from .clauses import Recorder
from .client import Client, Exchange
from .common import NoTaskWitness, need, need_budget, png_data_url, post_with_room, unknown_task_id
from .grammar import parse
from .observe import Observer
from .probe import Followed
from .runtime import Run
from .target import Target


def _button(task: dict[str, Any], kind: str, detail: str = "") -> dict[str, Any] | None:
    for b in task.get("buttons") or []:
        parsed = parse(str(b.get("customId"))) if isinstance(b, dict) else None
        if parsed is not None and parsed.kind == kind and parsed.detail.startswith(detail):
            return b
    return None


def _poll(client: Client, run: Run, target: Target, task_id: str) -> dict[str, Any]:
    """Fetch until terminal (or the task timeout); the last snapshot ({} when fetch never answered a task)."""
    deadline = time.monotonic() + run.opts.task_timeout
    task: dict[str, Any] = {}
    while time.monotonic() < deadline:
        ex = client.get(f"/mj/task/{task_id}/fetch")
        data = ex.json_or_none() if ex.status == 200 else None
        if isinstance(data, dict):
            task = data
            if task.get("status") in TERMINAL:
                break
        time.sleep(0.02 if target.local else 2.0)
    return task


def _accepted(rec: Recorder, target: Target, ex: Exchange, cid: str, what: str) -> str:
    with rec.soft():
        check_no_server_error(rec, ex)
        task_id = check_submit_envelope(rec, ex, target.expect)
    rec.check(cid, task_id is not None, lambda: f"{what} was not accepted: {ex.brief()}")
    assert task_id is not None
    return task_id


def _picture(client: Client, url: Any) -> Any:
    from PIL import Image

    ex = client.download(str(url))
    with Image.open(io.BytesIO(ex.body)) as image:
        return image.convert("RGB")


def _mp4_verdict(client: Client, url: Any) -> str:
    """'ok …' when the URL serves an MP4 whose video decodes; otherwise what was wrong."""
    import av

    if not isinstance(url, str) or not url:
        return f"no video URL ({short(url)})"
    ex = client.download(url)
    if ex.status != 200:
        return f"GET {url} → HTTP {ex.status}"
    if ex.body[4:8] != b"ftyp":
        return f"GET {url} is not an MP4 (no ftyp box): {ex.body[:16]!r}"
    try:
        with av.open(io.BytesIO(ex.body)) as container:
            stream = container.streams.video[0]
            count = sum(1 for _ in container.decode(video=0))
            codec = stream.codec_context.name
    except Exception as exc:  # any decoder complaint is the evidence
        return f"GET {url}: the MP4 does not decode ({type(exc).__name__}: {exc})"
    return f"ok {codec}, {count} frames" if count else f"GET {url}: an MP4 without frames"


@pytest.fixture(scope="module")
def u1(probe: Followed, client: Client, target: Target, rec: Recorder, observer: Observer,
       run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the probe grid, its U1 result), both SUCCESS."""
    grid = probe.final
    need(grid is not None and grid.get("status") == "SUCCESS", "the probe Imagine did not reach SUCCESS")
    assert grid is not None
    button = _button(grid, "upsample")
    need(button is not None and button.get("label") == "U1", f"the probe shows no U1: {short(grid.get('buttons'))}")
    assert button is not None
    need_budget(run, 1)
    pressed: Pressed = press(client, target, rec, observer, grid, button)
    need(pressed.task_id is not None, f"U1 was not accepted: {pressed.outcome}")
    assert pressed.task_id is not None
    task = observer.wait_terminal(client, pressed.task_id)
    need(task.get("status") == "SUCCESS", f"U1 did not reach SUCCESS: {short(task)}")
    return grid, task


@pytest.fixture(scope="module")
def animated(u1: tuple[dict[str, Any], dict[str, Any]], client: Client, target: Target, rec: Recorder,
             run: Run) -> dict[str, Any]:
    """A VIDEO task made by Animate (Low motion) on the U1 result, followed to its end."""
    _, upscaled = u1
    button = _button(upscaled, "animate", "animate_low")
    need(button is not None, f"the upscaled image offers no Animate button: {short(upscaled.get('buttons'))}")
    assert button is not None
    need_budget(run, 1)
    ex = post_with_room(client, target.expect, "/mj/submit/action",
                        {"taskId": str(upscaled["id"]), "customId": button["customId"]}, client.timeout * 3,
                        target.local)
    task_id = _accepted(rec, target, ex, "VID-1", "Animate (Low motion)")
    return _poll(client, run, target, task_id)


@pytest.mark.clauses("IMG-2")
@pytest.mark.cost(billable=2, priority=30)
def test_u_image_is_its_grid_cell(u1: tuple[dict[str, Any], dict[str, Any]], client: Client, rec: Recorder) -> None:
    from PIL import ImageChops, ImageStat

    grid_task, u_task = u1
    grid, cell = _picture(client, grid_task["imageUrl"]), _picture(client, u_task["imageUrl"])
    half = (grid.width // 2, grid.height // 2)
    rec.check("IMG-2", cell.size == half,
              lambda: f"U1 is {cell.size[0]}x{cell.size[1]}; its cell of the {grid.width}x{grid.height} grid is "
                      f"{half[0]}x{half[1]}")
    if cell.size == half:
        diff = sum(ImageStat.Stat(ImageChops.difference(grid.crop((0, 0, *half)), cell)).mean) / 3
        rec.check("IMG-2", diff < 1.0, lambda: f"U1 differs from its grid cell by {diff:.2f}/255 on average")
        rec.reading("IMG-2", "pixel-identical" if diff == 0 else "equal within lossy re-encoding")


@pytest.mark.clauses("VID-1")
@pytest.mark.cost(billable=3, priority=31)
def test_animate_makes_videos_that_download_as_mp4(animated: dict[str, Any], client: Client, rec: Recorder) -> None:
    task = animated
    rec.check("VID-1", task.get("status") == "SUCCESS", lambda: f"the Animate task did not succeed: {short(task)}")
    if task.get("status") != "SUCCESS":
        return
    videos = task.get("videoUrls")
    rec.check("VID-1", task.get("action") == "VIDEO" and task.get("contentType") == "video/mp4",
              lambda: f"action {task.get('action')}, contentType {task.get('contentType')}: expected VIDEO, video/mp4")
    shaped = isinstance(videos, list) and bool(videos) and all(
        isinstance(v, dict) and isinstance(v.get("url"), str) and isinstance(v.get("thumbnail"), str) for v in videos)
    rec.check("VID-1", shaped, lambda: f"videoUrls should list {{url, thumbnail}} per video: {short(videos)}")
    if not shaped:
        return
    rec.check("VID-1", task.get("videoUrl") == videos[0]["url"],
              lambda: f"videoUrl {short(task.get('videoUrl'))} is not the first of videoUrls")
    verdict = _mp4_verdict(client, videos[0]["url"])
    rec.check("VID-1", verdict.startswith("ok"), lambda: verdict)
    if verdict.startswith("ok"):
        rec.reading("VID-1", verdict.removeprefix("ok ").split(",")[0])
    thumb = client.download(videos[0]["thumbnail"])
    rec.check("VID-1", thumb.status == 200 and thumb.body[:4] == b"RIFF" and thumb.body[8:12] == b"WEBP",
              lambda: f"the thumbnail should download as WEBP: HTTP {thumb.status} {thumb.body[:12]!r}")


@pytest.mark.clauses("VID-2")
@pytest.mark.cost(billable=4, priority=32)
def test_extend_through_submit_video(animated: dict[str, Any], client: Client, rec: Recorder, target: Target,
                                     run: Run) -> None:
    need(animated.get("status") == "SUCCESS", "the Animate task did not succeed")
    need_budget(run, 1)
    body = {"action": "extend", "taskId": str(animated["id"]), "index": 0, "prompt": "the camera keeps moving",
            "motion": "low"}
    ex = post_with_room(client, target.expect, "/mj/submit/video", body, client.timeout * 3, target.local)
    task = _poll(client, run, target, _accepted(rec, target, ex, "VID-2", "an extend through /mj/submit/video"))
    rec.check("VID-2", task.get("status") == "SUCCESS" and task.get("action") == "VIDEO",
              lambda: f"the extend should end as a SUCCESS VIDEO task: {short(task)}")
    if task.get("status") == "SUCCESS":
        verdict = _mp4_verdict(client, task.get("videoUrl"))
        rec.check("VID-2", verdict.startswith("ok"), lambda: f"the extended video: {verdict}")


@pytest.mark.clauses("VID-3", "ERR-1")
@pytest.mark.cost(billable=3, priority=45)
def test_bad_video_requests_create_nothing(client: Client, rec: Recorder, target: Target, run: Run) -> None:
    need_budget(run, 3)
    cases = (
        ("a video without prompt", {"image": png_data_url(), "prompt": ""}),
        ("a taskId without action extend", {"image": png_data_url(), "prompt": "x", "taskId": unknown_task_id()}),
        ("an extend of an unknown task", {"action": "extend", "taskId": unknown_task_id(), "prompt": "x"}),
    )
    for what, body in cases:
        witness = NoTaskWitness(client, rec, target.expect, "VID-3")
        ex = client.post("/mj/submit/video", body)
        with rec.soft():
            check_no_server_error(rec, ex)
            witness.verify(ex, what)
