"""The image rules everywhere an image is accepted, over HTTP: each broken rule is refused with
code 21 naming the field and the reason, before any task exists or any credit is spent; JPEG, PNG,
static GIF and WEBP are accepted, whatever MIME type the data URL claims."""

from __future__ import annotations

import base64
import io
import random
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from tests.helpers import Client, balance, data_url, decode_image, finished, image_bytes, submit, task_count

PER_POLL = {"seed": 19}  # the `pc` fixture's mock (conftest.py)

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
        "BMP": "image/bmp", "TIFF": "image/tiff"}
EXT = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}


# ------------------------------------------------------------------------------------------- images
def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def noise_png_over_4mb() -> bytes:
    """A real, valid PNG of random noise (which does not compress) larger than 4 MB."""
    side = 1200  # 1200 × 1200 × 3 bytes = 4.32 MB of pixels, stored uncompressed
    picture = Image.frombytes("RGB", (side, side), random.Random(4).randbytes(side * side * 3))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=0)
    data = buffer.getvalue()
    assert len(data) > 4 * 1024 * 1024
    return data


def bomb_png(side: int = 10_000) -> bytes:
    """A valid single-colour PNG of side × side pixels (1-bit grey) that compresses to a few dozen KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed pixels, all black
    idat = zlib.compress(row * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def broken() -> dict[str, tuple[str, str]]:
    """Rule → (a value that breaks it, a word the refusal must use to say why)."""
    png = image_bytes("PNG")
    return {
        "raw base64 without prefix": (base64.b64encode(png).decode(), "data URL"),
        "non-image MIME type": ("data:text/plain;base64," + base64.b64encode(png).decode(), "data URL"),
        "invalid base64": ("data:image/png;base64,@@@ this is not base64 !!", "valid base64"),
        "bytes that are no image": (data_url(b"hello"), "not a decodable image"),
        "animated GIF": (data_url(animated_gif(), "image/gif"), "animated"),
        "BMP": (data_url(image_bytes("BMP"), MIME["BMP"]), "BMP"),
        "TIFF": (data_url(image_bytes("TIFF"), MIME["TIFF"]), "TIFF"),
        "over 4 MB decoded": (data_url(noise_png_over_4mb()), "4 MB"),
        "decompression bomb": (data_url(bomb_png()), "too large"),
    }


RULES = ["raw base64 without prefix", "non-image MIME type", "invalid base64", "bytes that are no image",
         "animated GIF", "BMP", "TIFF", "over 4 MB decoded", "decompression bomb"]


# ------------------------------------------------------------------------------------------- server
def custom_id(task: dict[str, Any], label: str) -> str:
    return next(b["customId"] for b in task["buttons"] if b["label"] == label)


@pytest.fixture(scope="module")
def upscaled(pc: Client) -> dict[str, Any]:
    grid = finished(pc, submit(pc, "/mj/submit/imagine", {"prompt": "a garden gate"}))
    return finished(pc, submit(pc, "/mj/submit/action", {"taskId": grid["id"], "customId": custom_id(grid, "U1")}))


def open_region_window(pc: Client, upscaled: dict[str, Any]) -> str:
    body = {"taskId": upscaled["id"], "customId": custom_id(upscaled, "Vary (Region)")}
    answer = submit(pc, "/mj/submit/action", body)
    assert answer["code"] == 21, answer
    return answer["result"]


@pytest.fixture(scope="module")
def region_window(pc: Client, upscaled: dict[str, Any]) -> str:
    """An open Vary (Region) window, waiting for its mask (every refusal leaves it open)."""
    return open_region_window(pc, upscaled)


GOOD = data_url(image_bytes("PNG", colour=(10, 200, 90)))
OTHER = data_url(image_bytes("PNG", colour=(90, 10, 200)))

# Every place an image is accepted: (path, body with the image under test put in by `place`, field named).
Site = tuple[str, Callable[[str, str], dict[str, Any]], str]
SITES: dict[str, Site] = {
    "imagine base64Array": ("/mj/submit/imagine",
                            lambda v, _: {"prompt": "a garden gate", "base64Array": [GOOD, v]}, "base64Array[1]"),
    "blend base64Array": ("/mj/submit/blend", lambda v, _: {"base64Array": [GOOD, v]}, "base64Array[1]"),
    "describe base64": ("/mj/submit/describe", lambda v, _: {"base64": v}, "base64"),
    "swap sourceBase64": ("/mj/insight-face/swap", lambda v, _: {"sourceBase64": v, "targetBase64": GOOD},
                          "sourceBase64"),
    "swap targetBase64": ("/mj/insight-face/swap", lambda v, _: {"sourceBase64": GOOD, "targetBase64": v},
                          "targetBase64"),
    "modal maskBase64": ("/mj/submit/modal", lambda v, window: {"taskId": window, "maskBase64": v}, "maskBase64"),
    "upload base64Array": ("/mj/submit/upload-discord-images", lambda v, _: {"base64Array": [GOOD, v]},
                           "base64Array[1]"),
}


# ------------------------------------------------------------------------------------------- refusals
# A mask may come as bare base64 (trueai accepts maskBase64 without its data: prefix; tests/serve/test_modal.py).
BROKEN_AT = [(site, rule) for site in SITES for rule in RULES
             if (site, rule) != ("modal maskBase64", "raw base64 without prefix")]


@pytest.mark.parametrize(("site", "rule"), BROKEN_AT)
def test_a_broken_image_is_refused_naming_field_and_reason(
    pc: Client, broken: dict[str, tuple[str, str]], region_window: str, site: str, rule: str
) -> None:
    path, place, field = SITES[site]
    value, why = broken[rule]
    before, money = task_count(pc), balance(pc)
    r = pc.post(path, place(value, region_window))
    assert r.status_code == 200, r.text[:500]
    answer = r.json()
    assert answer["code"] == 21, answer
    assert answer["result"] is None
    description = answer["description"]
    assert re.search(rf"(^|[\s:]){re.escape(field)}([\s:]|$)", description), description
    assert why in description, description
    assert len(description) < 300  # names the problem, does not echo the image
    assert task_count(pc) == before
    assert balance(pc) == money
    if site == "modal maskBase64":
        assert pc.fetch(region_window)["status"] == "MODAL"  # still waiting for a usable mask


# ------------------------------------------------------------------------------------------- accepted
ACCEPTED = [("PNG", "PNG"), ("JPEG", "JPEG"), ("GIF", "GIF"), ("WEBP", "WEBP"), ("PNG", "JPEG")]


def accepted_ids() -> list[str]:
    return [fmt if fmt == claimed else f"{fmt} labelled {claimed}" for fmt, claimed in ACCEPTED]


@pytest.mark.parametrize(("fmt", "claimed"), ACCEPTED, ids=accepted_ids())
def test_describe_accepts_the_four_formats_by_their_real_type(pc: Client, fmt: str, claimed: str) -> None:
    data = image_bytes(fmt, (60, 40))
    task = finished(pc, submit(pc, "/mj/submit/describe", {"base64": data_url(data, MIME[claimed])}))
    assert task["description"] == f"/describe {task['id']}.{EXT[fmt]}"
    r = pc.http.get(task["imageUrl"], timeout=30)
    assert r.content == data
    assert r.headers["content-type"] == MIME[fmt]
    assert task["prompt"].endswith("--ar 3:2")


@pytest.mark.parametrize(("fmt", "claimed"), ACCEPTED, ids=accepted_ids())
def test_upload_imagine_blend_and_swap_accept_the_four_formats(pc: Client, fmt: str, claimed: str) -> None:
    data = image_bytes(fmt, (24, 24), (30, 60, 90))
    value = data_url(data, MIME[claimed])

    answer = submit(pc, "/mj/submit/upload-discord-images", {"base64Array": [value]})
    assert answer["code"] == 1, answer
    (url,) = answer["result"]
    assert url.endswith("." + EXT[fmt])
    r = pc.http.get(url, timeout=30)
    assert (r.content, r.headers["content-type"]) == (data, MIME[fmt])

    answer = submit(pc, "/mj/submit/imagine", {"prompt": "a garden gate", "base64Array": [value]})
    assert answer["code"] == 1, answer
    reference = pc.fetch(answer["result"])["prompt"].split(" ")[0]
    assert pc.http.get(reference, timeout=30).content == data

    answer = submit(pc, "/mj/submit/blend", {"base64Array": [value, GOOD]})
    assert answer["code"] == 1, answer

    task = finished(pc, submit(pc, "/mj/insight-face/swap", {"sourceBase64": value, "targetBase64": OTHER}))
    image = decode_image(pc.http.get(task["imageUrl"], timeout=30).content)
    assert image.size == (40, 30)
    task = finished(pc, submit(pc, "/mj/insight-face/swap", {"sourceBase64": OTHER, "targetBase64": value}))
    assert decode_image(pc.http.get(task["imageUrl"], timeout=30).content).size == (24, 24)


def test_a_mask_is_accepted_as_a_png_with_a_white_region(pc: Client, upscaled: dict[str, Any]) -> None:
    window = open_region_window(pc, upscaled)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (8, 8, 24, 24))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    answer = submit(pc, "/mj/submit/modal", {"taskId": window, "maskBase64": data_url(buffer.getvalue())})
    assert answer["code"] == 1, answer
    assert pc.finish(window)["status"] == "SUCCESS"
