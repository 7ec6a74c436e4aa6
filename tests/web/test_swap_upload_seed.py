"""Face swap, image upload, reference images on imagine, and image seeds, over HTTP: every image
that goes in is served back byte for byte, and every image that comes out depends on what went in."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.helpers import (
    Client,
    balance,
    button,
    download,
    encoded,
    finished,
    image_of,
    pressed,
    submit,
    task_count,
)

PER_POLL = {"seed": 17}  # the `pc` fixture's mock (conftest.py)

RGB = tuple[int, int, int]
GREY: RGB = (128, 128, 128)


# ------------------------------------------------------------------------------------------- helpers
def url_of(size: tuple[int, int], colour: RGB) -> str:
    return encoded(size, colour)[1]


def dominant(pixel: RGB) -> int:
    """Index of the strongest channel of a pixel (0 red, 1 green, 2 blue)."""
    return max(range(3), key=lambda i: pixel[i])


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def grid(pc: Client) -> dict[str, Any]:
    return finished(pc, submit(pc, "/mj/submit/imagine", {"prompt": "a paper boat"}))


# ------------------------------------------------------------------------------------------- face swap
def swap(c: Client, source: RGB, target: RGB) -> tuple[dict[str, Any], Image.Image]:
    answer = submit(c, "/mj/insight-face/swap", {"sourceBase64": url_of((200, 200), source),
                                                 "targetBase64": url_of((300, 400), target), "state": "swap"})
    task = finished(c, answer)
    return task, image_of(c, task)


def test_swap_face_puts_the_source_face_into_the_target(pc: Client) -> None:
    task, image = swap(pc, (255, 0, 0), GREY)
    assert task["action"] == "SWAP_FACE"
    assert task["properties"]["botType"] == "INSIGHT_FACE"
    assert task["state"] == "swap"
    assert task["buttons"] == []
    assert image.size == (300, 400)  # the target's frame
    assert image.getpixel((2, 2)) == GREY  # the target is kept around the face
    assert dominant(image.getpixel((150, 180))) == 0  # the face comes from the (red) source


def test_swap_face_depends_on_both_inputs(pc: Client) -> None:
    _, red_on_grey = swap(pc, (255, 0, 0), GREY)
    _, blue_on_grey = swap(pc, (0, 0, 255), GREY)
    _, blue_on_green = swap(pc, (0, 0, 255), (0, 160, 0))
    # Another source changes the face; another target changes the rest (and tints the face).
    assert dominant(blue_on_grey.getpixel((150, 180))) == 2
    assert red_on_grey.getpixel((150, 180)) != blue_on_grey.getpixel((150, 180))
    assert blue_on_grey.getpixel((2, 2)) == GREY
    assert blue_on_green.getpixel((2, 2)) == (0, 160, 0)
    assert blue_on_green.getpixel((150, 180)) != blue_on_grey.getpixel((150, 180))


def test_swap_face_refuses_the_same_image_twice(pc: Client) -> None:
    before, money = task_count(pc), balance(pc)
    same = url_of((64, 64), (10, 20, 30))
    answer = submit(pc, "/mj/insight-face/swap", {"sourceBase64": same, "targetBase64": same})
    assert answer["code"] == 21, answer
    assert "sourceBase64" in answer["description"] and "targetBase64" in answer["description"]
    assert (task_count(pc), balance(pc)) == (before, money)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targetBase64": "T"}, "sourceBase64"),
        ({"sourceBase64": "S"}, "targetBase64"),
        ({"sourceBase64": "", "targetBase64": "T"}, "sourceBase64"),
        ({"sourceBase64": "S", "targetBase64": "  "}, "targetBase64"),
    ],
)
def test_swap_face_needs_both_images(pc: Client, body: dict[str, str], field: str) -> None:
    images = {"S": url_of((64, 64), (200, 0, 0)), "T": url_of((64, 64), (0, 0, 200))}
    body = {k: images.get(v, v) for k, v in body.items()}
    before, money = task_count(pc), balance(pc)
    r = pc.post("/mj/insight-face/swap", body)
    assert r.status_code in (200, 400), r.text
    answer = r.json()
    assert answer["code"] == 21, answer
    assert field in answer["description"]
    assert (task_count(pc), balance(pc)) == (before, money)


# ------------------------------------------------------------------------------------------- upload
def test_upload_serves_back_exactly_what_was_sent(pc: Client) -> None:
    png, png_url = encoded((30, 20), (1, 2, 3))
    jpeg, jpeg_url = encoded((20, 30), (250, 240, 10), "JPEG")
    before, money = task_count(pc), balance(pc)
    answer = submit(pc, "/mj/submit/upload-discord-images", {"base64Array": [png_url, jpeg_url]})
    assert answer["code"] == 1, answer
    urls = answer["result"]
    assert isinstance(urls, list) and len(urls) == 2 and len(set(urls)) == 2
    assert download(pc, urls[0]) == (png, "image/png")
    assert download(pc, urls[1]) == (jpeg, "image/jpeg")
    assert (task_count(pc), balance(pc)) == (before, money)  # an upload is not a task


def test_upload_through_an_unknown_account_is_refused(pc: Client) -> None:
    answer = submit(pc, "/mj/submit/upload-discord-images", {"base64Array": [url_of((8, 8), (9, 9, 9))],
                                                            "filter": {"instanceId": "nope"}})
    assert answer["code"] == 24, answer
    assert answer["result"] is None


# ------------------------------------------------------------------------------------------- imagine references
def test_imagine_with_reference_images_puts_their_urls_first(pc: Client) -> None:
    png, png_url = encoded((40, 40), (0, 120, 255))
    jpeg, jpeg_url = encoded((40, 40), (255, 120, 0), "JPEG")
    answer = submit(pc, "/mj/submit/imagine", {"prompt": "a paper boat --ar 3:2", "base64Array": [png_url, jpeg_url]})
    task = finished(pc, answer)
    words = task["prompt"].split(" ")
    first, second, rest = words[0], words[1], " ".join(words[2:])
    assert rest == "a paper boat --ar 3:2"
    assert task["promptEn"] == task["prompt"]
    assert task["description"] == f"/imagine {first} {second} a paper boat --ar 3:2"
    assert download(pc, first) == (png, "image/png")
    assert download(pc, second) == (jpeg, "image/jpeg")
    image = image_of(pc, task)
    assert image.width / image.height == pytest.approx(3 / 2, rel=0.02)


# ------------------------------------------------------------------------------------------- image seed
def seed_of(c: Client, task_id: str) -> dict[str, Any]:
    r = c.get(f"/mj/task/{task_id}/image-seed")
    assert r.status_code == 200, r.text
    return r.json()


def assert_seed(answer: dict[str, Any]) -> str:
    assert answer["code"] == 1, answer
    assert isinstance(answer["result"], str) and answer["result"].isdigit(), answer
    return answer["result"]


def test_image_seed_of_a_finished_grid_upscale_variation_and_blend(pc: Client, grid: dict[str, Any]) -> None:
    upscale = finished(pc, pressed(pc, grid, button(grid, "U1")))
    variation = finished(pc, pressed(pc, grid, button(grid, "V2")))
    blend = finished(pc, submit(pc, "/mj/submit/blend", {"base64Array": [url_of((16, 16), (200, 0, 0)),
                                                                         url_of((16, 16), (0, 0, 200))]}))
    seeds = [assert_seed(seed_of(pc, task["id"])) for task in (grid, upscale, variation, blend)]
    assert seed_of(pc, grid["id"])["result"] == seeds[0]  # a task's seed does not change
    assert len(set(seeds)) == 4


def test_image_seed_of_a_describe_task_is_refused(pc: Client) -> None:
    task = finished(pc, submit(pc, "/mj/submit/describe", {"base64": url_of((32, 32), (0, 90, 0))}))
    answer = seed_of(pc, task["id"])
    assert answer["code"] != 1, answer
    assert answer["result"] is None
    assert task["id"] in answer["description"]


def test_image_seed_of_a_shorten_task_is_refused(pc: Client) -> None:
    task = finished(pc, submit(pc, "/mj/submit/shorten", {"prompt": "a small red paper boat on a pond"}))
    answer = seed_of(pc, task["id"])
    assert answer["code"] == 21, answer
    assert "no image" in answer["description"]


def test_image_seed_of_an_unfinished_task_is_refused(pc: Client) -> None:
    task_id = submit(pc, "/mj/submit/imagine", {"prompt": "a paper plane"})["result"]
    pc.fetch(task_id)  # one step: SUBMITTED
    answer = seed_of(pc, task_id)
    assert answer["code"] == 21, answer
    assert "SUCCESS" in answer["description"]
    assert answer["result"] is None


def test_image_seed_of_an_unknown_task_is_not_found(pc: Client) -> None:
    r = pc.get("/mj/task/1234567890123456/image-seed")
    assert r.status_code == 404
    assert r.json()["code"] == 21
