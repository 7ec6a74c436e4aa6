"""Video end to end, in both dialects: Animate on an upscaled image, /submit/video (animate, extend), the
VIDEO task's lifecycle and fields, real MP4 bytes (decoded with PyAV), video upscale, Extend, reroll, and
every refusal with its code, message and HTTP status, changing nothing.

Videos are rendered on first download, so the tests that decode use small start images (cheap), and the
one that goes imagine → U1 → Animate decodes only what it must."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw

from mockmj.media import video
from tests.helpers import (
    Client,
    Start,
    balance,
    button,
    decode_image,
    download,
    is_proxy,
    mean_diff,
    mock_client,
    png_of,
    pressed,
    run,
    submit,
    task_count,
)


@pytest.fixture(scope="module", params=["88api", "proxy"])
def vc(request: pytest.FixtureRequest, starter: Start) -> Iterator[Client]:
    yield from mock_client(starter, timing="per-poll", seed=11, dialect=request.param)


def start_image(size: tuple[int, int] = (96, 64)) -> str:
    """A small picture with structure (so that camera motion shows), as bare base64 without a data: prefix."""
    picture = Image.new("RGB", size, (30, 60, 160))
    draw = ImageDraw.Draw(picture)
    w, h = size
    draw.ellipse((w * 0.2, h * 0.2, w * 0.6, h * 0.8), fill=(250, 210, 40))
    draw.rectangle((w * 0.65, h * 0.1, w * 0.9, h * 0.5), fill=(220, 40, 60))
    return base64.b64encode(png_of(picture)).decode()


def mp4_frames(c: Client, url: str) -> list[Image.Image]:
    data, mime = download(c, url)
    assert mime == "video/mp4"
    assert data[4:8] == b"ftyp"  # an ISO-BMFF (MP4) file
    return video.decode_frames(data)


def done_pressing(c: Client, task: dict[str, Any], label: str) -> dict[str, Any]:
    """Press the task's button with this label and run the new task to SUCCESS."""
    answer = pressed(c, task, button(task, label))
    assert answer["code"] == 1, answer
    _, done = run(c, answer["result"])
    assert done["status"] == "SUCCESS", done
    return done


def animate_small(c: Client, **extra: Any) -> dict[str, Any]:
    answer = submit(c, "/mj/submit/video", {"prompt": "the sun rises", "image": start_image(), **extra})
    assert answer["code"] == 1, answer
    _, task = run(c, answer["result"])
    assert task["status"] == "SUCCESS", task
    return task


# ------------------------------------------------------------------------------------------- the full path
def test_imagine_u1_animate_upscale_extend(vc: Client) -> None:
    grid = run(vc, submit(vc, "/mj/submit/imagine", {"prompt": "a quiet harbour"})["result"])[1]
    assert grid["version"] == ("v 8.1" if is_proxy(vc) else "8.1")  # the default model
    upscaled = done_pressing(vc, grid, "U1")
    labels = [b["label"] for b in upscaled["buttons"]]
    assert labels[:2] == ["Vary (Subtle)", "Vary (Strong)"]  # V8: no Upscale (Subtle/Creative) buttons
    assert {"Animate (High motion)", "Animate (Low motion)"} <= set(labels)
    assert button(upscaled, "Animate (High motion)").startswith("MJ::JOB::animate_high::1::")

    answer = submit(vc, "/mj/submit/action", {"taskId": upscaled["id"],
                                              "customId": button(upscaled, "Animate (High motion)")})
    assert answer["code"] == 1, answer
    statuses, clip = run(vc, answer["result"])
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "SUCCESS"
    assert statuses.count("IN_PROGRESS") >= 3  # a video reports progress, like a grid
    assert clip["action"] == "VIDEO" and clip["contentType"] == "video/mp4" and clip["version"] is None
    assert clip["description"] == f"/up {upscaled['id']} Animate (High motion)"
    h = clip["properties"]["messageHash"]
    assert [b["customId"] for b in clip["buttons"]] == [
        *(f"MJ::JOB::video_virtual_upscale::{i}::{h}" for i in range(1, 5)), f"MJ::JOB::reroll::0::{h}::SOLO"]
    assert [(b["label"], b["style"], b["type"]) for b in clip["buttons"][:4]] == [(f"U{i}", 2, 2) for i in range(1, 5)]
    assert len(clip["videoUrls"]) == len(clip["imageUrls"]) == 4
    assert clip["videoUrl"] == clip["videoUrls"][0]["url"]
    assert len({v["url"] for v in clip["videoUrls"]}) == 4

    frames = mp4_frames(vc, clip["videoUrl"])
    assert len(frames) == video.FRAMES
    assert frames[0].size == (640, 640)  # the 1024² U image, at the SD video size
    u_image = decode_image(download(vc, upscaled["imageUrl"])[0])
    assert mean_diff(frames[0], u_image, size=None) < 6  # it starts from the image it animates
    assert mean_diff(frames[-1], frames[0], size=None) > 3  # and moves

    hd = done_pressing(vc, clip, "U2")
    assert hd["action"] == "UPSCALE" and hd["contentType"] == "video/mp4"
    assert [b["label"] for b in hd["buttons"]] == ["Extend (High motion)", "Extend (Low motion)"]
    assert hd["buttons"][0]["customId"] == f"MJ::JOB::animate_high_extend::1::{hd['properties']['messageHash']}"
    assert len(hd["videoUrls"]) == 1 and hd["videoUrl"] == hd["videoUrls"][0]["url"]

    longer = done_pressing(vc, hd, "Extend (Low motion)")
    assert longer["action"] == "VIDEO" and len(longer["videoUrls"]) == 4
    assert longer["description"] == f"/up {hd['id']} Extend (Low motion)"


def test_video_upscale_doubles_and_extend_continues_the_last_frame(vc: Client) -> None:
    clip = animate_small(vc, batchSize=2)
    sd = mp4_frames(vc, clip["videoUrls"][1]["url"])
    assert sd[0].size == (96, 64)  # the start image's own size (under the SD limit)
    hd = done_pressing(vc, clip, "U2")
    hd_frames = mp4_frames(vc, hd["videoUrl"])
    assert hd_frames[0].size == (192, 128)
    assert mean_diff(hd_frames[-1], sd[-1], size=None) < 8  # the same video, larger

    extended = done_pressing(vc, hd, "Extend (High motion)")
    first = mp4_frames(vc, extended["videoUrl"])[0]
    assert first.size == (192, 128)  # an extend keeps the size of the video it continues
    assert mean_diff(first, hd_frames[-1], size=None) < 6


# ------------------------------------------------------------------------------------------- /submit/video
def test_submit_video_rewrites_the_prompt_and_lists_each_video(vc: Client) -> None:
    answer = submit(vc, "/mj/submit/video", {"prompt": "waves roll in", "image": start_image(), "batchSize": 2,
                                             "loop": True, "motion": "high", "state": "s-1"})
    assert answer["code"] == 1, answer
    _, task = run(vc, answer["result"])
    assert task["status"] == "SUCCESS"
    assert task["description"] == "/video waves roll in"
    assert task["prompt"] == "waves roll in" and task["state"] == "s-1"
    start_url, rest = task["promptEn"].split(" ", 1)
    assert rest == "waves roll in --video 1 --end loop --motion high --bs 2"
    assert decode_image(download(vc, start_url)[0]).size == (96, 64)  # the start image is served back
    assert task["properties"]["finalPrompt"] == task["promptEn"]
    assert [b["label"] for b in task["buttons"]] == ["U1", "U2", ""]
    for entry in (*task["videoUrls"], *task["imageUrls"]):
        assert set(entry) == {"url", "thumbnail"}
        thumb, mime = download(vc, entry["thumbnail"])
        assert mime == "image/webp" and decode_image(thumb).format == "WEBP"
    cover, mime = download(vc, task["imageUrls"][0]["url"])
    assert mime == "image/png" and decode_image(cover).size == (96, 64)
    frames = mp4_frames(vc, task["videoUrls"][0]["url"])
    assert mean_diff(frames[-1], frames[0], size=None) < 6  # a loop ends where it started
    assert mean_diff(frames[len(frames) // 2], frames[0], size=None) > 2


def test_an_end_image_is_where_the_video_stops(vc: Client) -> None:
    red = Image.new("RGB", (96, 64), (230, 20, 20))
    buffer = io.BytesIO()
    red.save(buffer, "PNG")
    end = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    task = animate_small(vc, endImage=end, batchSize=1)
    assert " --end http" in task["promptEn"] and task["promptEn"].endswith("--motion low --bs 1")
    frames = mp4_frames(vc, task["videoUrl"])
    assert mean_diff(frames[-1], red, size=None) < 8
    assert mean_diff(frames[0], red, size=None) > 40


def test_extend_through_submit_video_continues_the_chosen_video(vc: Client) -> None:
    clip = animate_small(vc, batchSize=2, motion="high")
    answer = submit(vc, "/mj/submit/video", {"action": "extend", "taskId": clip["id"], "index": 1,
                                             "prompt": "and further", "motion": "low"})
    assert answer["code"] == 1, answer
    _, extended = run(vc, answer["result"])
    assert extended["status"] == "SUCCESS" and extended["action"] == "VIDEO"
    assert extended["promptEn"].startswith(clip["videoUrls"][1]["url"] + " and further --video 1")
    assert extended["properties"]["referencedMessageId"] == clip["properties"]["messageId"]
    parent_last = mp4_frames(vc, clip["videoUrls"][1]["url"])[-1]
    assert mean_diff(mp4_frames(vc, extended["videoUrl"])[0], parent_last, size=None) < 6


@pytest.mark.parametrize("spelled", ["Low", "HIGH", "hIgH"])
def test_motion_in_any_letter_case_is_accepted_as_trueai_accepts_it(vc: Client, spelled: str) -> None:
    """A ComfyUI node sends "Low": trueai writes the value as sent into a new video's prompt and lowercases
    it for an extend; the mock animates with the lowercase motion either way."""
    clip = animate_small(vc, batchSize=1, motion=spelled)
    assert clip["promptEn"].endswith(f"--video 1 --motion {spelled} --bs 1")
    assert clip["properties"]["finalPrompt"] == clip["promptEn"]
    answer = submit(vc, "/mj/submit/video", {"action": "extend", "taskId": clip["id"], "index": 0,
                                             "prompt": "on", "motion": spelled, "batchSize": 1})
    assert answer["code"] == 1, answer
    _, extended = run(vc, answer["result"])
    assert extended["status"] == "SUCCESS" and extended["promptEn"].endswith(f"--motion {spelled.lower()} --bs 1")
    engine = vc.server.mock.engine
    assert [engine.task(t["id"]).image_recipe["motion"] for t in (clip, extended)] == [spelled.lower()] * 2


@pytest.mark.parametrize("motion", ["medium", "", 1])
def test_a_motion_that_is_not_low_or_high_is_refused(vc: Client, motion: Any) -> None:
    # the 88api dialect checks the body against the spec first (HTTP 400); the proxy's own check answers 200
    answer = refused(vc, {"prompt": "x", "image": start_image(), "motion": motion}, http=200 if is_proxy(vc) else 400)
    expect_param(vc, answer, None, "motion")


def test_reroll_makes_the_batch_again(vc: Client) -> None:
    clip = animate_small(vc, batchSize=2)
    again = done_pressing(vc, clip, "")
    assert again["action"] == "VIDEO" and len(again["videoUrls"]) == 2
    assert again["properties"]["messageHash"] != clip["properties"]["messageHash"]


def test_videos_are_deterministic(mocks: Any) -> None:
    urls = []
    for _ in range(2):
        c = mocks(timing="per-poll", seed=5)
        answer = submit(c, "/mj/submit/video", {"prompt": "same", "image": start_image(), "batchSize": 1})
        urls.append((c, run(c, answer["result"])[1]["videoUrl"]))
    (a, first), (b, second) = urls
    assert download(a, first)[0] == download(b, second)[0]


# ------------------------------------------------------------------------------------------- refusals
PROXY_MESSAGES = {
    "prompt": "Prompt 不能为空", "task_type": "任务类型错误", "status": "关联任务状态错误", "image": "base64格式错误",
}


def refused(c: Client, body: dict[str, Any], http: int = 200) -> dict[str, Any]:
    before, money = task_count(c), balance(c)
    r = c.post("/mj/submit/video", body)
    assert r.status_code == http, r.text
    assert (task_count(c), balance(c)) == (before, money)  # nothing created, nothing spent
    answer = r.json()
    assert answer["result"] is None
    return answer


def expect_param(c: Client, answer: dict[str, Any], kind: str | None, words: str) -> None:
    if is_proxy(c):
        assert answer["code"] == 4, answer
        if kind is not None:
            assert answer["description"] == PROXY_MESSAGES[kind], answer
    else:
        assert answer["code"] == 21, answer
        assert words in answer["description"], answer


@pytest.mark.parametrize(("body", "kind", "words"), [
    ({"prompt": " ", "image": start_image()}, "prompt", "prompt"),
    ({"prompt": "", "action": "extend", "taskId": "1"}, "prompt", "prompt"),
    ({"prompt": "x", "image": start_image(), "taskId": "1"}, "task_type", "extend"),
    ({"prompt": "x", "image": "not-an-image"}, "image", "image"),
    ({"prompt": "x", "image": "http://203.0.113.9/cat.png"}, "image", "never fetches from the network"),
    ({"prompt": "x"}, None, "image"),
    ({"prompt": "x", "image": start_image(), "endImage": "data:image/png;base64,AAAA"}, "image", "endImage"),
])
def test_bad_video_requests_change_nothing(vc: Client, body: dict[str, Any], kind: str | None, words: str) -> None:
    expect_param(vc, refused(vc, body), kind, words)


def test_extend_of_an_unknown_task_is_http_404(vc: Client) -> None:
    answer = refused(vc, {"prompt": "x", "action": "extend", "taskId": "1234567890123456"}, http=404)
    proxy = is_proxy(vc)
    assert (answer["code"], answer["description"]) == ((3, "关联任务不存在或已失效") if proxy else
                                                      (21, "Parameter error: task 1234567890123456 does not exist"))


def test_extend_needs_a_finished_video(vc: Client) -> None:
    pending = submit(vc, "/mj/submit/video", {"prompt": "x", "image": start_image()})["result"]
    answer = refused(vc, {"prompt": "x", "action": "extend", "taskId": pending})
    expect_param(vc, answer, "status", "only a finished video")
    grid = run(vc, submit(vc, "/mj/submit/imagine", {"prompt": "no video here"})["result"])[1]
    expect_param(vc, refused(vc, {"prompt": "x", "action": "extend", "taskId": grid["id"]}), "status", "no video")
    clip = animate_small(vc, batchSize=1)
    expect_param(vc, refused(vc, {"prompt": "x", "action": "extend", "taskId": clip["id"], "index": 1}), None,
                 "index")


def test_a_video_outcome_can_be_chosen_like_an_image_one(vc: Client) -> None:
    r = vc.post("/mj/submit/video", {"prompt": "x", "image": start_image()}, headers={"X-MockMJ-Outcome": "fail"})
    assert r.json()["code"] == 1, r.text
    _, task = run(vc, r.json()["result"])
    assert task["status"] == "FAILURE" and task["failReason"]
    assert not task["videoUrl"] and task["videoUrls"] is None and task["imageUrls"] is None


def test_control_rules_match_video_submissions_and_buttons(vc: Client) -> None:
    rule = {"match": {"key": vc.key, "action": "video"}, "respond": {"code": 23}, "times": 1}
    vc.control("POST", "/rules", rule)
    assert vc.post("/mj/submit/video", {"prompt": "x", "image": start_image()}).json()["code"] == 23
    assert vc.post("/mj/submit/video", {"prompt": "x", "image": start_image()}).json()["code"] == 1
    clip = animate_small(vc, batchSize=1)
    vc.control("POST", "/rules", {**rule, "match": {"key": vc.key, "action": "video_upscale"}})
    r = vc.post("/mj/submit/action", {"taskId": clip["id"], "customId": button(clip, "U1")})
    assert r.json()["code"] == 23, r.text
